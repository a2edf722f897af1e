package studio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	messaging "github.com/twilio/twilio-go/rest/messaging/v1"
	studioapi "github.com/twilio/twilio-go/rest/studio/v2"

	"github.com/patient-outreach/sms/internal/twiliocall"
	"github.com/patient-outreach/sms/outreach"
)

// DefaultDeployTimeout bounds one call to Twilio when DeployConfig.Timeout
// is zero.
const DefaultDeployTimeout = 30 * time.Second

// ConsoleFlowURL is the prefix of a flow's page in the Twilio console: the
// flow's SID follows it. The console redirects it to the flow's canvas.
const ConsoleFlowURL = "https://www.twilio.com/console/studio/flows/"

// Twilio error codes the deployer reads.
const (
	codeValidation = 81022 // Flow definition validation failed
	codeNotFound   = 20404 // resource not found
)

// Page sizes and bounds of the listings a Deployer reads.
const (
	flowPageSize   = 50
	flowMaxPages   = 200 // 10,000 flows
	numberPageSize = 50
	numberMaxPages = 200
)

// ErrNotFound is returned (wrapped) by [Deployer.Delete] for a flow that
// does not exist, by [Deployer.PointNumber] for a number the account
// does not have, and by [Deployer.PointMessagingService] for a Messaging
// Service the account does not have.
var ErrNotFound = errors.New("studio: not found")

// DeployConfig configures a [Deployer].
type DeployConfig struct {
	// AccountSID and AuthToken are the Twilio account's credentials
	// (alphanumeric, as twilio-go requires).
	AccountSID string
	AuthToken  string
	// HTTPClient supplies the base transport (its Transport; nil means
	// http.DefaultTransport). Point it at a fake Twilio with
	// twiliotest.Server.HTTPClient. Its Timeout is ignored: see Timeout.
	HTTPClient *http.Client
	// Timeout bounds each call to Twilio (a listing with all its pages is
	// one call); zero means [DefaultDeployTimeout].
	Timeout time.Duration
}

// Deployer deploys Studio flows to a Twilio account and points phone
// numbers and Messaging Services at them, through the twilio-go client. It is safe for
// concurrent use, but it does not lock the account: two processes that
// deploy the same new friendly name at the same moment can both create a
// flow (Deploy and Find then report the name as ambiguous).
//
// Every method honours its context (and the per-call timeout): when it
// ends, the request in flight is abandoned and the method returns; no
// request outlives the call.
type Deployer struct {
	c twilioCaller
}

var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// flowSID matches a Studio flow SID.
var flowSID = regexp.MustCompile(`^FW[0-9a-fA-F]{32}$`)

// mgSID matches a Messaging Service SID.
var mgSID = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)

// NewDeployer checks cfg and returns a Deployer.
func NewDeployer(cfg DeployConfig) (*Deployer, error) {
	switch {
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, errors.New("studio: DeployConfig needs AccountSID and AuthToken")
	case !alphanumeric.MatchString(cfg.AccountSID) || !alphanumeric.MatchString(cfg.AuthToken):
		return nil, errors.New("studio: AccountSID and AuthToken must be alphanumeric (copy them from the Twilio console)")
	case cfg.Timeout < 0:
		return nil, errors.New("studio: Timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultDeployTimeout
	}
	c := twiliocall.Caller{AccountSID: cfg.AccountSID, AuthToken: cfg.AuthToken, Timeout: cfg.Timeout}
	if cfg.HTTPClient != nil {
		c.Base = cfg.HTTPClient.Transport
	}
	return &Deployer{c: twilioCaller{c}}, nil
}

// DeployOptions are the options of [Deployer.Deploy].
type DeployOptions struct {
	// FriendlyName names the flow in Studio, and is how Deploy finds it
	// again; empty means the flow's Name, or its ID.
	FriendlyName string
	// Draft saves the revision as a draft instead of publishing it. New
	// executions run the latest published revision.
	Draft bool
	// CommitMessage describes the revision.
	CommitMessage string
}

// Deployed describes a flow deployed to Studio: its latest revision.
type Deployed struct {
	SID          string // "FW..."
	FriendlyName string
	// Revision numbers the flow's revisions from 1: every deploy of an
	// existing flow adds one.
	Revision int
	// Status is "published" or "draft".
	Status string
	// WebhookURL is the flow's webhook: the URL that a number's
	// incoming-message URL must point at for Studio to get its replies
	// (see [Deployer.PointNumber] and [Deployer.PointMessagingService]).
	WebhookURL string
	// ConsoleURL is the flow's page in the Twilio console:
	// [ConsoleFlowURL] and the SID.
	ConsoleURL string
}

// ValidationError is Studio's refusal of a flow definition (FlowValidate,
// or a create or update, answered 400 with the failures).
type ValidationError struct {
	FriendlyName string
	Code         int    // Twilio's error code, such as 81022
	Message      string // Twilio's message
	Problems     []ValidationProblem
}

// ValidationProblem is one failure Studio found in a definition.
type ValidationProblem struct {
	Message string
	// PropertyPath locates the failure in the definition's JSON, such as
	// "#/states/2/transitions/0/next".
	PropertyPath string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "studio: Twilio refused the definition of flow %q", e.FriendlyName)
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		if p.PropertyPath != "" {
			b.WriteString(p.PropertyPath + ": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Deploy exports f with [FromFlow] and deploys it as [Deployer.DeployDefinition]
// does, under opts.FriendlyName (default f.Name, else f.ID). A flow
// imported from a definition that starts on another trigger event (a
// patient texting in) gets its incomingRequest transition wired to the
// same widget too, since executions start there. What Deploy deploys is
// what a [Machine] runs in the embedded runtime ([RunDefinition]).
func (d *Deployer) Deploy(ctx context.Context, f *outreach.Flow, opts DeployOptions) (Deployed, error) {
	if f == nil {
		return Deployed{}, errors.New("studio: deploy: nil flow")
	}
	def, err := RunDefinition(f)
	if err != nil {
		return Deployed{}, fmt.Errorf("studio: deploy %s: %w", f.ID, err)
	}
	if opts.FriendlyName == "" {
		opts.FriendlyName = f.Name
	}
	if opts.FriendlyName == "" {
		opts.FriendlyName = f.ID
	}
	return d.DeployDefinition(ctx, def, opts)
}

// RunDefinition returns the definition that runs f, in Studio ([Deployer.Deploy]
// deploys it) and in the embedded runtime (a [Machine] runs it): f
// exported by [FromFlow] (a flow imported from Studio starts from its
// Source), its incomingRequest transition wired to where the flow starts
// when the definition starts on another trigger event.
func RunDefinition(f *outreach.Flow) (*Definition, error) {
	def, err := FromFlow(f)
	if err != nil {
		return nil, err
	}
	startFromRequest(def)
	return def, nil
}

// DeployDefinition deploys def under opts.FriendlyName (required): it
// validates def with Studio's FlowValidate endpoint (a refusal is a
// *[ValidationError] listing Twilio's failures, and nothing is saved),
// then finds the flow of that friendly name and updates it, which adds a
// revision, or creates it if there is none. Deploying twice gives one
// flow with two revisions, never two flows. The revision is published
// unless opts.Draft.
//
// Deploying does not point any number at the flow: for a two-way flow,
// call [Deployer.PointNumber] with the number (or
// [Deployer.PointMessagingService] with the Messaging Service) and the
// Deployed's WebhookURL.
func (d *Deployer) DeployDefinition(ctx context.Context, def *Definition, opts DeployOptions) (Deployed, error) {
	name := opts.FriendlyName
	if name == "" {
		return Deployed{}, errors.New("studio: deploy: a friendly name is required")
	}
	if def == nil {
		return Deployed{}, fmt.Errorf("studio: deploy %q: nil definition", name)
	}
	status := "published"
	if opts.Draft {
		status = "draft"
	}
	if err := d.validate(ctx, name, status, def); err != nil {
		return Deployed{}, err
	}
	found, ok, err := d.Find(ctx, name)
	if err != nil {
		return Deployed{}, fmt.Errorf("studio: deploy %q: %w", name, err)
	}
	var fl *studioapi.StudioV2Flow
	err = d.c.studio(ctx, func(s *studioapi.ApiService) (err error) {
		if ok {
			p := &studioapi.UpdateFlowParams{}
			p.SetStatus(status).SetFriendlyName(name).SetDefinition(def)
			if opts.CommitMessage != "" {
				p.SetCommitMessage(opts.CommitMessage)
			}
			fl, err = s.UpdateFlow(found.SID, p)
			return err
		}
		p := &studioapi.CreateFlowParams{}
		p.SetStatus(status).SetFriendlyName(name).SetDefinition(def)
		if opts.CommitMessage != "" {
			p.SetCommitMessage(opts.CommitMessage)
		}
		fl, err = s.CreateFlow(p)
		return err
	})
	if err != nil {
		if ve := validationError(name, err); ve != nil {
			return Deployed{}, ve
		}
		op := "create"
		if ok {
			op = "update " + found.SID
		}
		return Deployed{}, fmt.Errorf("studio: deploy %q: %s: %w", name, op, err)
	}
	if fl == nil || fl.Sid == nil {
		return Deployed{}, fmt.Errorf("studio: deploy %q: Twilio answered with no flow SID", name)
	}
	return d.deployed(fl), nil
}

// Validate checks def with Studio's FlowValidate endpoint, as
// [Deployer.DeployDefinition] does first; a refusal is a
// *[ValidationError]. friendlyName is required by the endpoint and
// named in the error.
func (d *Deployer) Validate(ctx context.Context, friendlyName string, def *Definition) error {
	if friendlyName == "" {
		return errors.New("studio: validate: a friendly name is required")
	}
	if def == nil {
		return fmt.Errorf("studio: validate %q: nil definition", friendlyName)
	}
	return d.validate(ctx, friendlyName, "published", def)
}

func (d *Deployer) validate(ctx context.Context, name, status string, def *Definition) error {
	var v *studioapi.StudioV2FlowValidate
	err := d.c.studio(ctx, func(s *studioapi.ApiService) (err error) {
		p := &studioapi.UpdateFlowValidateParams{}
		p.SetFriendlyName(name).SetStatus(status).SetDefinition(def)
		v, err = s.UpdateFlowValidate(p)
		return err
	})
	if err != nil {
		if ve := validationError(name, err); ve != nil {
			return ve
		}
		return fmt.Errorf("studio: validate %q: %w", name, err)
	}
	if v != nil && v.Valid != nil && !*v.Valid {
		return &ValidationError{FriendlyName: name, Message: "FlowValidate answered valid: false"}
	}
	return nil
}

// validationError returns the *ValidationError that err is, or nil: a
// Twilio 400 with code 81022, or with failures in details.errors.
func validationError(name string, err error) *ValidationError {
	var te *client.TwilioRestError
	if !errors.As(err, &te) {
		return nil
	}
	list, _ := te.Details["errors"].([]any)
	if te.Code != codeValidation && (te.Status != http.StatusBadRequest || len(list) == 0) {
		return nil
	}
	ve := &ValidationError{FriendlyName: name, Code: te.Code, Message: te.Message}
	for _, x := range list {
		switch x := x.(type) {
		case map[string]any:
			msg, _ := x["message"].(string)
			path, _ := x["property_path"].(string)
			ve.Problems = append(ve.Problems, ValidationProblem{Message: msg, PropertyPath: path})
		case string:
			ve.Problems = append(ve.Problems, ValidationProblem{Message: x})
		}
	}
	return ve
}

// Find returns the flow whose friendly name is friendlyName, paging
// through the account's flows; false if there is none. Two flows of that
// name (made outside the Deployer) are an error naming both, since
// deploying could not tell which to update.
func (d *Deployer) Find(ctx context.Context, friendlyName string) (Deployed, bool, error) {
	var match []Deployed
	err := d.eachFlow(ctx, func(fl *studioapi.StudioV2Flow) {
		if fl.FriendlyName != nil && *fl.FriendlyName == friendlyName {
			match = append(match, d.deployed(fl))
		}
	})
	if err != nil {
		return Deployed{}, false, fmt.Errorf("studio: find %q: %w", friendlyName, err)
	}
	switch len(match) {
	case 0:
		return Deployed{}, false, nil
	case 1:
		return match[0], true, nil
	}
	sids := make([]string, len(match))
	for i, m := range match {
		sids[i] = m.SID
	}
	return Deployed{}, false, fmt.Errorf("studio: find %q: %d flows have this friendly name (%s): delete or rename all but one in the console",
		friendlyName, len(match), strings.Join(sids, ", "))
}

// List returns every flow of the account (its latest revision), in
// Twilio's order.
func (d *Deployer) List(ctx context.Context) ([]Deployed, error) {
	var out []Deployed
	err := d.eachFlow(ctx, func(fl *studioapi.StudioV2Flow) { out = append(out, d.deployed(fl)) })
	if err != nil {
		return nil, fmt.Errorf("studio: list flows: %w", err)
	}
	return out, nil
}

// eachFlow calls fn with every flow of the account, page by page, in one
// call.
func (d *Deployer) eachFlow(ctx context.Context, fn func(*studioapi.StudioV2Flow)) error {
	return d.c.studio(ctx, func(s *studioapi.ApiService) error {
		p := &studioapi.ListFlowParams{}
		p.SetPageSize(flowPageSize)
		complete, err := twiliocall.Pages(flowMaxPages, func(token, page string) (string, error) {
			resp, err := s.PageFlow(p, token, page)
			if err != nil {
				return "", err
			}
			for i := range resp.Flows {
				fn(&resp.Flows[i])
			}
			return deref(resp.Meta.NextPageUrl), nil
		})
		if err == nil && !complete {
			err = fmt.Errorf("more than %d flows: stopped listing", flowPageSize*flowMaxPages)
		}
		return err
	})
}

// Delete deletes a flow, given its SID ("FW" and 32 hex digits) or its
// friendly name, with all its revisions and executions. A flow that does
// not exist is an error wrapping [ErrNotFound].
func (d *Deployer) Delete(ctx context.Context, nameOrSID string) error {
	sid := nameOrSID
	if !flowSID.MatchString(nameOrSID) {
		found, ok, err := d.Find(ctx, nameOrSID)
		if err != nil {
			return fmt.Errorf("studio: delete: %w", err)
		}
		if !ok {
			return fmt.Errorf("studio: delete %q: no flow has this friendly name: %w", nameOrSID, ErrNotFound)
		}
		sid = found.SID
	}
	err := d.c.studio(ctx, func(s *studioapi.ApiService) error { return s.DeleteFlow(sid) })
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("studio: delete %s: %w", sid, ErrNotFound)
		}
		return fmt.Errorf("studio: delete %s: %w", sid, err)
	}
	return nil
}

func notFound(err error) bool {
	var te *client.TwilioRestError
	return errors.As(err, &te) && (te.Status == http.StatusNotFound || te.Code == codeNotFound)
}

// PointNumber sets the incoming-message URL (SmsUrl, method POST) of the
// account's number phoneNumber (E.164, such as +15005550006) to
// webhookURL: for a two-way Studio flow, the Deployed's WebhookURL.
// Replies reach Studio only this way, as the blueprint's flows were set
// up; a number the account does not have is an error wrapping
// [ErrNotFound].
//
// A number serves one two-way flow at a time, and while it points at a
// Studio flow, the embedded runtime's webhook sees none of that number's
// replies, STOPs included: point it back at the webhook (with
// PointNumber and the webhook's public URL) before running a campaign
// from that number with the embedded runtime.
func (d *Deployer) PointNumber(ctx context.Context, phoneNumber, webhookURL string) error {
	if !outreach.IsE164(phoneNumber) {
		return fmt.Errorf("studio: point number: %q is not an E.164 number such as +15005550006", outreach.MaskPhone(phoneNumber))
	}
	if u, err := url.Parse(webhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("studio: point number %s: webhook URL must be a full http(s) URL", outreach.MaskPhone(phoneNumber))
	}
	var sid string
	err := d.c.api(ctx, func(s *api.ApiService) error {
		p := &api.ListIncomingPhoneNumberParams{}
		p.SetPhoneNumber(phoneNumber).SetPageSize(numberPageSize)
		_, err := twiliocall.Pages(numberMaxPages, func(token, page string) (string, error) {
			resp, err := s.PageIncomingPhoneNumber(p, token, page)
			if err != nil {
				return "", err
			}
			for _, n := range resp.IncomingPhoneNumbers {
				if n.PhoneNumber != nil && *n.PhoneNumber == phoneNumber && n.Sid != nil {
					sid = *n.Sid
					return "", nil
				}
			}
			return deref(resp.NextPageUri), nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("studio: point number %s: find it: %w", outreach.MaskPhone(phoneNumber), err)
	}
	if sid == "" {
		return fmt.Errorf("studio: point number %s: the account has no such number: %w", outreach.MaskPhone(phoneNumber), ErrNotFound)
	}
	err = d.c.api(ctx, func(s *api.ApiService) error {
		p := &api.UpdateIncomingPhoneNumberParams{}
		p.SetSmsUrl(webhookURL).SetSmsMethod(http.MethodPost)
		_, err := s.UpdateIncomingPhoneNumber(sid, p)
		return err
	})
	if err != nil {
		return fmt.Errorf("studio: point number %s (%s): %w", outreach.MaskPhone(phoneNumber), sid, err)
	}
	return nil
}

// PointMessagingService sets the incoming-message URL of the account's
// Messaging Service serviceSID ("MG" and 32 hex digits) to webhookURL:
// InboundRequestUrl, method POST, with UseInboundWebhookOnNumber false
// so that the service's URL, not each sender number's SmsUrl, gets the
// texts to every number of its sender pool. For a two-way Studio flow
// that sends from the service, webhookURL is the Deployed's WebhookURL;
// to give the service back to the embedded runtime, it is the webhook's
// public URL. A service the account does not have is an error wrapping
// [ErrNotFound].
//
// As with [Deployer.PointNumber], while the service points at a Studio
// flow the embedded runtime's webhook sees none of the replies to its
// numbers, STOPs included.
func (d *Deployer) PointMessagingService(ctx context.Context, serviceSID, webhookURL string) error {
	if !mgSID.MatchString(serviceSID) {
		shown := outreach.MaskPhone(serviceSID) // it may be a phone number
		if strings.HasPrefix(serviceSID, "MG") {
			shown = truncate(serviceSID, 40)
		}
		return fmt.Errorf("studio: point messaging service: %q is not a Messaging Service SID (MG and 32 hex digits, as the Twilio console shows)", shown)
	}
	if u, err := url.Parse(webhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("studio: point messaging service %s: webhook URL must be a full http(s) URL", serviceSID)
	}
	err := d.c.messaging(ctx, func(s *messaging.ApiService) error {
		p := &messaging.UpdateServiceParams{}
		p.SetInboundRequestUrl(webhookURL).SetInboundMethod(http.MethodPost).SetUseInboundWebhookOnNumber(false)
		_, err := s.UpdateService(serviceSID, p)
		return err
	})
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("studio: point messaging service %s: the account has no such service: %w", serviceSID, ErrNotFound)
		}
		return fmt.Errorf("studio: point messaging service %s: %w", serviceSID, err)
	}
	return nil
}

// truncate shortens s to n bytes at most, for quoting bad input in
// errors.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (d *Deployer) deployed(fl *studioapi.StudioV2Flow) Deployed {
	out := Deployed{
		SID:          deref(fl.Sid),
		FriendlyName: deref(fl.FriendlyName),
		Revision:     fl.Revision,
		Status:       deref(fl.Status),
		WebhookURL:   deref(fl.WebhookUrl),
	}
	if out.SID != "" {
		out.ConsoleURL = ConsoleFlowURL + out.SID
		if out.WebhookURL == "" {
			out.WebhookURL = "https://webhooks.twilio.com/v1/Accounts/" + d.c.AccountSID + "/Flows/" + out.SID
		}
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
