package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// StepError is the API refusing a step: the ECS code and message, and
// how many steps before it were applied.
type StepError struct {
	Step    Step
	Applied int
	Code    string
	Message string
	Err     error // the transport error when there is no code
}

func (e *StepError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s %s: %s: %s", e.Step.Action, e.Step.Resource, e.Code, e.Message)
	}
	return fmt.Sprintf("%s %s: %v", e.Step.Action, e.Step.Resource, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Run applies the steps in order through the SDK, printing each to progress
// as it succeeds, and stops at the first error.
func (p *Plan) Run(c Clients, progress io.Writer) error {
	ids := map[string]string{} // placeholder → the ID the API gave
	for i, s := range p.Steps {
		params := map[string]string{}
		for k, v := range s.Params {
			if isRef(v) {
				id, ok := ids[v]
				if !ok {
					return &StepError{Step: s, Applied: i, Err: fmt.Errorf("%s was not created earlier in the run (a bug in the plan's order)", v)}
				}
				v = id
			}
			params[k] = v
		}
		body, err := c.call(s.Product, s.Action, params)
		if err != nil {
			se := &StepError{Step: s, Applied: i, Err: err}
			var sdkErr *sdkerrors.ServerError
			if errors.As(err, &sdkErr) {
				se.Code, se.Message = sdkErr.ErrorCode(), sdkErr.Message()
			}
			return se
		}
		made := ""
		if s.creates != "" {
			if made, err = idIn(body, s.idField); err != nil {
				return &StepError{Step: s, Applied: i + 1, Err: fmt.Errorf("reading the new ID from the answer: %w", err)}
			}
			ids[s.creates] = made
			made = " → " + made
		}
		fmt.Fprintf(progress, "  done %s %s%s\n", s.Action, s.Resource, made)
	}
	return nil
}

// call sends one action as a common request, signed by the SDK like the
// typed calls, to the client's endpoint.
func (c Clients) call(product, action string, params map[string]string) ([]byte, error) {
	req := requests.NewCommonRequest()
	req.Method = "POST"
	req.ApiName = action
	req.Product = product
	req.FormParams = params
	req.QueryParams["RegionId"] = c.Region
	if product == "Vpc" {
		req.Version, req.Domain, req.Scheme = VPCVersion, c.VPC.Domain, c.VPC.GetConfig().Scheme
		resp, err := c.VPC.ProcessCommonRequest(req)
		if err != nil {
			return nil, err
		}
		return resp.GetHttpContentBytes(), nil
	}
	req.Version, req.Domain, req.Scheme = ECSVersion, c.ECS.Domain, c.ECS.GetConfig().Scheme
	resp, err := c.ECS.ProcessCommonRequest(req)
	if err != nil {
		return nil, err
	}
	return resp.GetHttpContentBytes(), nil
}

// idIn reads a string (or the first of a list) at a dotted path of a JSON
// answer, e.g. "InstanceIdSets.InstanceIdSet".
func idIn(body []byte, path string) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", err
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("no %s in %s", path, body)
		}
		v = m[k]
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		v = l[0]
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("no %s in %s", path, body)
	}
	return s, nil
}
