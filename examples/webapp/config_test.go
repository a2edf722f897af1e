package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patient-outreach/sms/verify"
)

func TestParseDotEnv(t *testing.T) {
	t.Parallel()
	got, err := parseDotEnv([]byte("\ufeff# a comment\n\nA=1\nexport B = two words # note\nC='single # kept'\nD=\"dq \\\"x\\\" \\n y\"\nE=\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": "dq \"x\" \n y", "E": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"NOEQUALS\n", "=v\n", "K=\"open\n"} {
		if _, err := parseDotEnv([]byte(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("parseDotEnv(%q) = %v; want an error on line 1", bad, err)
		}
	}
}

func TestConfigPrecedenceAndAliases(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	os.WriteFile(envFile, []byte(
		"ACCOUNT_SID=ACfile\nAUTH_TOKEN=tokenfile\nTWILIO_PHONE_NUMBER=(415) 555-0100\nADMINISTRATOR_PHONE=+14155550199\n"+
			"APPLICATION_PASSWORD=correct horse battery\nCUSTOMER_NAME=Westlake Clinic\nPUBLIC_BASE_URL=https://file.example\nLISTEN_ADDR=127.0.0.1:9000\n"), 0o600)
	env := map[string]string{"PUBLIC_BASE_URL": "https://env.example/", "LISTEN_ADDR": "127.0.0.1:9001", "SEND_WINDOW": "09:00-20:30"}
	var stderr bytes.Buffer
	cfg, err := loadConfig([]string{"-env-file", envFile, "-listen-addr", "127.0.0.1:9002"}, func(k string) string { return env[k] }, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dev || cfg.AccountSID != "ACfile" || cfg.AuthToken != "tokenfile" || cfg.PhoneNumber != "+14155550100" {
		t.Errorf("credentials from the blueprint's names: %+v", cfg)
	}
	if cfg.PublicBaseURL != "https://env.example" || cfg.ListenAddr != "127.0.0.1:9002" {
		t.Errorf("precedence: base URL %q (want env), listen %q (want flag)", cfg.PublicBaseURL, cfg.ListenAddr)
	}
	if cfg.Window.Start != 9*time.Hour || cfg.Window.End != 20*time.Hour+30*time.Minute {
		t.Errorf("window %v", cfg.Window)
	}
	if cfg.VerifyServiceName != "Westlake Clinic" || cfg.CustomerName != "Westlake Clinic" {
		t.Errorf("names %q %q", cfg.VerifyServiceName, cfg.CustomerName)
	}
	if err := verify.CheckPassword(cfg.PasswordHash, "correct horse battery"); err != nil {
		t.Errorf("APPLICATION_PASSWORD was not hashed: %v", err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "PASSWORD_HASH") || strings.Contains(cfg.Warnings[0], "horse") {
		t.Errorf("warnings %q", cfg.Warnings)
	}
	if cfg.DatabasePath != "outreach.db" || cfg.MaxUploadBytes != 10<<20 {
		t.Errorf("defaults: %q %d", cfg.DatabasePath, cfg.MaxUploadBytes)
	}
}

func TestConfigDevMode(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig([]string{"-env-file", ""}, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dev || cfg.PhoneNumber != devNumber || cfg.AdminPhone != devAdminPhone || len(cfg.DevPassword) < verify.MinPasswordLen {
		t.Fatalf("dev config %+v", cfg)
	}
	if err := verify.CheckPassword(cfg.PasswordHash, cfg.DevPassword); err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != "127.0.0.1:8080" || cfg.Window.Start != 8*time.Hour || cfg.Window.End != 21*time.Hour {
		t.Errorf("defaults %q %v", cfg.ListenAddr, cfg.Window)
	}
}

func TestDatabasePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "outreach.db", "data/o.db": "data/o.db", "sqlite:o.db": "o.db", "sqlite:///var/o.db": "/var/o.db",
		"file:o.db?_pragma=x": "o.db",
		"postgres://u@h/db":   "postgres://u@h/db", "postgresql://u@h/db?sslmode=disable": "postgresql://u@h/db?sslmode=disable",
	} {
		if got, err := databasePath(in); err != nil || got != want {
			t.Errorf("databasePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"mysql://x", ":memory:"} {
		if _, err := databasePath(in); err == nil {
			t.Errorf("databasePath(%q) accepted", in)
		}
	}
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"00:00-24:00", "08:00-21:00", " 7:30 - 19:45 "} {
		if _, err := parseWindow(ok); err != nil {
			t.Errorf("parseWindow(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"21:00-08:00", "8-9", "25:00-26:00", "08:00", "08:60-09:00"} {
		if _, err := parseWindow(bad); err == nil {
			t.Errorf("parseWindow(%q) accepted", bad)
		}
	}
}

func TestHashPasswordCommand(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"hash-password"}, func(string) string { return "" }, strings.NewReader("a long enough password\n"), &out, &errb); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(out.String())
	h, ok := strings.CutPrefix(line, "PASSWORD_HASH='")
	if !ok {
		t.Fatalf("output %q", line)
	}
	if err := verify.CheckPassword(strings.TrimSuffix(h, "'"), "a long enough password"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "long enough") {
		t.Error("the password was echoed")
	}
	err := run(t.Context(), []string{"hash-password"}, func(string) string { return "" }, strings.NewReader("short\n"), &out, &errb)
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("a short password: %v; want a usage error", err)
	}
}
