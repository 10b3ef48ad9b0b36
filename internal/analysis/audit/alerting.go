package audit

// SGA-032: no alerting on security-group changes. Whether changes raise
// alerts is not in the cloud but in the server's configuration (a webhook
// notified of every change to groups, rules and members), so the check
// reads Options.ChangeAlerting, which the server's audit action sets; an
// offline audit does not know and the check says nothing.

func init() {
	register(Check{ID: "SGA-032", Title: "No alerting on security-group changes", Severity: Medium, Run: changeAlerting})
}

// AlertingResource is the Resource of an SGA-032 finding: the alerting
// configuration at fault, not one group.
const AlertingResource = "alerting"

func changeAlerting(in *Input) []Finding {
	if in.Options.ChangeAlerting == nil || *in.Options.ChangeAlerting || len(in.Cloud.Groups) == 0 {
		return nil
	}
	return []Finding{{Check: "SGA-032", Severity: Medium, Resource: AlertingResource,
		Message: "Changes to security groups, their rules and their members raise no alert, so an opened port goes unnoticed until it is used.",
		Fix:     "Start palisade serve with --webhook-url pointing at your alerting system (and --webhook-secret to sign the notifications)."}}
}
