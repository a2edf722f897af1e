package twiliotest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// SignatureHeader is the header Twilio signs webhook requests with.
const SignatureHeader = "X-Twilio-Signature"

// Sign returns the X-Twilio-Signature Twilio sends with a webhook request
// to rawURL carrying the form params, signed with authToken: the base64
// HMAC-SHA1 of the URL (exactly as configured, query string included)
// followed by each parameter's name and value, sorted by name (a name
// with several values once per distinct value, in sorted order).
func Sign(authToken, rawURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range params {
			if !yield(k) {
				return
			}
		}
	}) {
		vs := slices.Compact(slices.Sorted(slices.Values(params[k])))
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// NewWebhookRequest returns a POST of params, form-encoded, to rawURL,
// signed with authToken as Twilio signs its webhooks (see [Sign]): what
// a webhook handler receives from Twilio.
func NewWebhookRequest(ctx context.Context, authToken, rawURL string, params url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set(SignatureHeader, Sign(authToken, rawURL, params))
	return req, nil
}
