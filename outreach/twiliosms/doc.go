// Package twiliosms sends Patient Outreach messages through Twilio's
// Messages API and receives Twilio's webhooks: an [outreach.Sender] on the
// twilio-go client, and the two http.Handlers Twilio calls back (inbound
// SMS and delivery status), each checking X-Twilio-Signature.
//
//	sender, err := twiliosms.NewSender(twiliosms.Config{
//		AccountSID: sid, AuthToken: token, From: "+15005550006",
//		StatusCallbackURL: "https://outreach.example.org/twilio/status",
//	})
//	runner := outreach.NewRunner(store, sender, outreach.RunnerOptions{From: "+15005550006"})
//
//	inbound, err := twiliosms.InboundHandler(runner, twiliosms.WebhookConfig{
//		AuthToken: token, PublicURL: "https://outreach.example.org/twilio/sms",
//	})
//	status, err := twiliosms.StatusHandler(runner, twiliosms.WebhookConfig{
//		AuthToken: token, PublicURL: "https://outreach.example.org/twilio/status",
//	})
//	mux.Handle("POST /twilio/sms", inbound)
//	mux.Handle("POST /twilio/status", status)
//
// twilio-go builds its requests with context.Background(), never retries
// and drops response headers. The Sender therefore builds a twilio-go API
// service for every call, over an http.Client whose transport gives each
// request the caller's context bounded by Config.Timeout, and keeps the
// Retry-After header. Requests run on the caller's goroutine: when Send
// or Lookup returns, no request of theirs is still running.
//
// Every failure of Send is an *outreach.SendError: Permanent (a 4xx from
// Twilio; 21610 also sets OptedOut), Retryable (429/20429 with
// RetryAfter, or nothing sent at all) or Ambiguous (5xx, timeout,
// cancellation or a connection lost after the request was sent). The
// runner reconciles an ambiguous send with [Sender.Lookup], which lists
// the messages between the two numbers and matches the body and a
// creation time at or after the recorded intent. The Sender never
// throttles: the runner does.
//
// The handlers validate X-Twilio-Signature with twilio-go's request
// validator against WebhookConfig.PublicURL (the URL configured at
// Twilio, never the request's Host), so a request with a missing or bad
// signature gets 403 and changes nothing. They take only what Twilio
// sends, a body of Content-Type application/x-www-form-urlencoded: any
// other content type gets 415 before the signature is even read. They log nothing unless given
// a logger, and then never a message body or a full phone number.
//
// Test with the fake Twilio of outreach/twiliotest: pass its
// HTTPClient as Config.HTTPClient, and sign webhook requests with
// twiliotest.NewWebhookRequest.
package twiliosms
