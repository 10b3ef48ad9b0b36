package api

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The SSH key pair actions. A key pair is named by KeyPairName in each of
// them; KeyPairId (CreateKeyPair's) is answered, never asked for.

func (s *Service) keyPairActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateKeyPair":    s.createKeyPair,
		"ImportKeyPair":    s.importKeyPair,
		"DescribeKeyPairs": s.describeKeyPairs,
		"DeleteKeyPairs":   s.deleteKeyPairs,
		"AttachKeyPair":    s.keyPairInstances(s.AttachKeyPair),
		"DetachKeyPair":    s.keyPairInstances(s.DetachKeyPair),
	}
}

// keyPairInput reads what CreateKeyPair and ImportKeyPair share.
func keyPairInput(c caller, p rpc.Params) (service.KeyPairInput, error) {
	in := service.KeyPairInput{Caller: c, Name: p.Get("KeyPairName"), ResourceGroupID: p.Get("ResourceGroupId")}
	var err error
	in.Tags, err = tagParams(p)
	return in, err
}

type createKeyPairResponse struct {
	rpc.Base
	KeyPairId          string
	KeyPairName        string
	KeyPairFingerPrint string
	// PrivateKeyBody is answered once and kept nowhere (the event trail
	// masks it as a secret).
	PrivateKeyBody string
}

func (s *Service) createKeyPair(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := keyPairInput(c, req.Params)
	if err != nil {
		return nil, err
	}
	res, err := s.CreateKeyPair(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createKeyPairResponse{KeyPairId: res.ID, KeyPairName: res.Name, KeyPairFingerPrint: res.Fingerprint, PrivateKeyBody: res.PrivateKeyBody}, nil
}

type importKeyPairResponse struct {
	rpc.Base
	KeyPairName        string
	KeyPairFingerPrint string
}

func (s *Service) importKeyPair(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := keyPairInput(c, req.Params)
	if err != nil {
		return nil, err
	}
	in.PublicKeyBody = req.Params.Get("PublicKeyBody")
	res, err := s.ImportKeyPair(ctx, in)
	if err != nil {
		return nil, err
	}
	return &importKeyPairResponse{KeyPairName: res.Name, KeyPairFingerPrint: res.Fingerprint}, nil
}

type keyPairItem struct {
	KeyPairName        string
	KeyPairFingerPrint string
	CreationTime       string
	ResourceGroupId    string
	// PublicKey only with IncludePublicKey=true.
	PublicKey string `json:",omitempty" xml:",omitempty"`
	Tags      tagSet
}

type describeKeyPairsResponse struct {
	rpc.Base
	PageNumber int
	PageSize   int
	TotalCount int
	KeyPairs   struct{ KeyPair []keyPairItem }
}

func (s *Service) describeKeyPairs(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// ECS pages this listing by number only: PageSize 1 to 50, 10 by default.
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	withKey, e := p.Bool("IncludePublicKey", false)
	if e != nil {
		return nil, e
	}
	in := service.DescribeKeyPairsInput{Caller: c, Name: p.Get("KeyPairName"), Fingerprint: p.Get("KeyPairFingerPrint"),
		ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.DescribeKeyPairs(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeKeyPairsResponse{PageNumber: pg.Number, PageSize: pg.Size, TotalCount: res.Total}
	out.KeyPairs.KeyPair = make([]keyPairItem, 0, len(res.Items))
	for _, k := range res.Items {
		item := keyPairItem{KeyPairName: k.Name, KeyPairFingerPrint: k.Fingerprint, CreationTime: timeText(k.Created),
			ResourceGroupId: resourceGroupID(k.Owner), Tags: tagsOut(k.Tags)}
		if withKey {
			item.PublicKey = k.PublicKey
		}
		out.KeyPairs.KeyPair = append(out.KeyPairs.KeyPair, item)
	}
	return out, nil
}

func (s *Service) deleteKeyPairs(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in := service.DeleteKeyPairsInput{Caller: c}
	if v := req.Params.Get("KeyPairNames"); v != "" {
		if json.Unmarshal([]byte(v), &in.Names) != nil {
			return nil, ecserr.BadRequest("InvalidKeyPairNames.ValueNotSupported", `The specified parameter "KeyPairNames" is not valid: give a JSON array of names, e.g. ["key-a","key-b"].`).At("KeyPairNames")
		}
	}
	if err := s.DeleteKeyPairs(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// keyPairInstancesResponse is AttachKeyPair's and DetachKeyPair's answer.
// Its counters, Code and Success are JSON strings, as both SDKs read them.
type keyPairInstancesResponse struct {
	rpc.Base
	KeyPairName string
	TotalCount  string
	FailCount   string
	Results     struct{ Result []keyPairInstanceResult }
}

type keyPairInstanceResult struct {
	InstanceId string
	Success    string
	Code       string
	Message    string
}

// keyPairInstances serves AttachKeyPair or DetachKeyPair: KeyPairName and
// InstanceIds, a JSON array of instance IDs.
func (s *Service) keyPairInstances(do func(context.Context, service.KeyPairInstancesInput) (service.KeyPairInstancesResult, error)) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		in := service.KeyPairInstancesInput{Caller: c, Name: req.Params.Get("KeyPairName")}
		if v := req.Params.Get("InstanceIds"); v != "" {
			if json.Unmarshal([]byte(v), &in.InstanceIDs) != nil {
				return nil, ecserr.BadRequest(model.CodeInstanceIDsBad, `The specified parameter "InstanceIds" is not valid: give a JSON array of instance IDs, e.g. ["i-a","i-b"].`).At("InstanceIds")
			}
		}
		res, err := do(ctx, in)
		if err != nil {
			return nil, err
		}
		out := &keyPairInstancesResponse{KeyPairName: res.Name, TotalCount: strconv.Itoa(len(res.Results)), FailCount: strconv.Itoa(res.Fail)}
		out.Results.Result = make([]keyPairInstanceResult, 0, len(res.Results))
		for _, r := range res.Results {
			out.Results.Result = append(out.Results.Result, keyPairInstanceResult{InstanceId: r.InstanceID, Success: strconv.FormatBool(r.Success), Code: r.Code, Message: r.Message})
		}
		return out, nil
	}
}
