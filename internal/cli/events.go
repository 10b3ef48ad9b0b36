package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
)

// eventsCommand is "palisade events": the event trail through ActionTrail's
// LookupEvents, newest first.
var eventsCommand = command{
	synopsis: "[--action ACTION] [--resource ID] [--since DURATION] [--max N] [--json | --jsonl]",
	summary:  "show the event trail: every change, and every refused call, newest first (a tenant sees its own, the operator all)",
	max:      0,
	setup: func(fs *flag.FlagSet) func(c *call) int {
		action := fs.String("action", "", "only events of `ACTION`, e.g. AuthorizeSecurityGroup")
		resource := fs.String("resource", "", "only events naming resource `ID`, e.g. sg-…")
		since := fs.Duration("since", 24*time.Hour, "events of the last `DURATION`")
		limit := fs.Int("max", 100, "show at most `N` events")
		lines := fs.Bool("jsonl", false, "print each event as one line of JSON, page by page as they come (an export: raise --max and --since to take a whole window)")
		return func(c *call) int {
			if *since <= 0 || *limit <= 0 {
				return c.usageErr("--since and --max must be positive")
			}
			if *lines && c.json {
				return c.usageErr("give --json or --jsonl, not both")
			}
			return c.events(*action, *resource, *since, *limit, *lines)
		}
	},
}

func eventsCmd(args []string, stdout, stderr io.Writer) int {
	return runCommand("events", &eventsCommand, args, stdout, stderr)
}

func (c *call) events(action, resource string, since time.Duration, limit int, lines bool) int {
	id, secret, _ := credentials()
	at, err := actiontrail.NewClientWithAccessKey(c.region, id, secret)
	if err != nil {
		return c.fail(err)
	}
	at.Domain = c.ecs.Domain
	now := time.Now().UTC()
	var attrs []actiontrail.LookupEventsLookupAttribute
	if action != "" {
		attrs = append(attrs, actiontrail.LookupEventsLookupAttribute{Key: "EventName", Value: action})
	}
	if resource != "" {
		attrs = append(attrs, actiontrail.LookupEventsLookupAttribute{Key: "ResourceName", Value: resource})
	}
	var events []map[string]any
	token, n := "", 0
	for n < limit {
		req := actiontrail.CreateLookupEventsRequest()
		c.prep(req)
		req.StartTime = now.Add(-since).Format("2006-01-02T15:04:05Z")
		req.EndTime = now.Format("2006-01-02T15:04:05Z")
		req.MaxResults = fmt.Sprint(min(50, limit-n))
		req.NextToken = token
		if len(attrs) > 0 {
			req.LookupAttribute = &attrs
		}
		resp, err := at.LookupEvents(req)
		if err != nil {
			return c.fail(err)
		}
		n += len(resp.Events)
		c.warnMissing(resp.GetHttpContentBytes(), "events")
		if !lines {
			events = append(events, resp.Events...)
		} else {
			enc := json.NewEncoder(c.stdout)
			for _, ev := range resp.Events {
				if err := enc.Encode(ev); err != nil {
					return c.fail(err)
				}
			}
		}
		if resp.NextToken == "" || len(resp.Events) == 0 && resp.NextToken == token {
			break // the end, or a page that would only repeat
		}
		token = resp.NextToken
	}
	if lines {
		return 0
	}
	if c.json {
		if events == nil {
			events = []map[string]any{}
		}
		return c.printJSON(events)
	}
	rows := make([][]string, 0, len(events))
	for _, ev := range events {
		code := str(ev["errorCode"])
		if code == "" {
			code = "OK"
		}
		ident, _ := ev["userIdentity"].(map[string]any)
		rows = append(rows, []string{str(ev["eventTime"]), str(ev["eventName"]), code, str(ident["accountId"]),
			str(ev["resourceName"]), str(ev["sourceIpAddress"]), str(ev["requestId"])})
	}
	return c.table([]string{"TIME", "ACTION", "CODE", "ACCOUNT", "RESOURCES", "SOURCE", "REQUEST ID"}, rows)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
