// Package studiotest runs Twilio Studio flows locally, inside the fake
// Twilio of package outreach/twiliotest, as package net/http/httptest
// sits beside net/http: deploy a definition (exported by studio.FromFlow
// or from the Studio console) to the fake, set an [Interpreter] as the
// fake's Options.Studio, and the executions created through the fake's
// Studio v2 API send their messages to simulated phones, wait for
// replies, evaluate splits and Liquid, and time out on the fake's clock.
//
// It is for tests and for the example programs' dev mode; production code
// needs only package studio, which does not depend on the fake.
package studiotest
