// Package e2e holds end-to-end tests of Patient Outreach: whole campaigns
// on the SQLite store with simulated phones, from a recipients CSV to the
// exported responses, including a crash of the runner between recording a
// send's intent and its outcome. It has no API.
package e2e
