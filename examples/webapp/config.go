package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/verify"
)

// config is the web app's configuration, read by loadConfig from flags,
// environment variables and an optional .env file (flags win over the
// environment, which wins over the file).
type config struct {
	AccountSID          string // TWILIO_ACCOUNT_SID (or ACCOUNT_SID)
	AuthToken           string // TWILIO_AUTH_TOKEN (or AUTH_TOKEN)
	PhoneNumber         string // TWILIO_PHONE_NUMBER, E.164
	MessagingServiceSID string // TWILIO_MESSAGING_SERVICE_SID
	AdminPhone          string // ADMINISTRATOR_PHONE, E.164: the first administrator's phone, where login codes go
	PasswordHash        string // PASSWORD_HASH (argon2id), or APPLICATION_PASSWORD hashed at start: the first administrator's
	PublicBaseURL       string // PUBLIC_BASE_URL: what Twilio calls back; default http://localhost:PORT
	DatabasePath        string // DATABASE_URL: an SQLite file, or a postgres:// URL
	ListenAddr          string // LISTEN_ADDR
	VerifyServiceName   string // VERIFY_SERVICE_NAME: the Twilio Verify service's friendly name
	Window              outreach.Window
	MaxUploadBytes      int64  // MAX_UPLOAD_BYTES
	CustomerName        string // CUSTOMER_NAME, shown in the page header
	FlowsDir            string // FLOWS_DIR: flow files to import once into the database; default "uploaded-flows" next to the database
	AlertSMSTo          string // ALERT_SMS_TO, E.164: the on-call phone texted on urgent replies
	AlertWebhookURL     string // ALERT_WEBHOOK_URL: where alerts are POSTed, signed
	AlertWebhookSecret  string // ALERT_WEBHOOK_SECRET: the webhook's signing key
	// RetentionDays (RETENTION_DAYS) is how many days after a campaign
	// finished its message texts and replies are deleted (ids, outcomes,
	// counts and answers stay). Zero, the default, keeps them forever:
	// deleting health records cannot be undone, and how long they must be
	// kept (medical-records law, a study protocol, a legal hold) is the
	// organisation's decision, not the app's; the log says so at start.
	RetentionDays int
	// Urgent (URGENT_TERMS, comma-separated; "none" for none) are the
	// words that raise an alert; default outreach.DefaultUrgentTerms.
	Urgent *outreach.UrgentTerms
	// TrustedProxies (TRUSTED_PROXY: IPs or CIDR prefixes, comma-separated)
	// are the reverse proxies whose X-Forwarded-For is believed when
	// counting failed logins per client address; none by default.
	TrustedProxies []netip.Prefix

	// Dev is true when no Twilio credentials are given: the fake Twilio
	// runs in-process with simulated phones.
	Dev bool
	// DevPassword is the generated dev-mode password, printed at start.
	DevPassword string
	// DevClockStart (DEV_CLOCK_START, RFC 3339, dev mode only) is where
	// the simulated clock of dev mode starts; zero means now. The clock
	// then runs at real speed and the operator can skip quiet hours.
	DevClockStart time.Time

	// Session timeouts: 15 minutes idle and 8 hours in all, shorter in
	// tests.
	IdleTimeout, Lifetime time.Duration
	// ProgressInterval is how often the live progress stream polls.
	ProgressInterval time.Duration
	// StudioPoll is how often the Studio runtime looks at each running
	// execution: 30 seconds, 2 in dev mode.
	StudioPoll time.Duration
	// Warnings are printed at start (never secrets).
	Warnings []string

	// twilioHTTP, set by tests only, carries the calls to "real" Twilio
	// to a fake (nil: Twilio itself).
	twilioHTTP *http.Client
	// sendRate, set by tests only, is the embedded runtime's messages per
	// second per sending number (0: the library's default, a long
	// code's 1 a second, which a test that only needs the messages sent
	// would wait for).
	sendRate float64
}

// usageError is a configuration error: run exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// settings lists every setting: its name, the blueprint's alias if any,
// and what it is, for flags and -help.
var settings = []struct {
	name, alias, help string
}{
	{"TWILIO_ACCOUNT_SID", "ACCOUNT_SID", "Twilio account SID (none: dev mode with a fake Twilio)"},
	{"TWILIO_AUTH_TOKEN", "AUTH_TOKEN", "Twilio auth token"},
	{"TWILIO_PHONE_NUMBER", "", "sending number, E.164 (+15005550006)"},
	{"TWILIO_MESSAGING_SERVICE_SID", "", "Messaging Service SID (MG...), instead of or with the number"},
	{"ADMINISTRATOR_PHONE", "", "first administrator's phone, E.164: the user \"admin\" is created with it when there is no user yet"},
	{"PASSWORD_HASH", "", "argon2id hash of the first administrator's password (go run ./examples/webapp hash-password)"},
	{"APPLICATION_PASSWORD", "", "plaintext password (blueprint name; prefer PASSWORD_HASH)"},
	{"PUBLIC_BASE_URL", "", "public base URL Twilio calls back (https://outreach.example.org); default http://localhost:PORT"},
	{"DATABASE_URL", "", "database: an SQLite file (a path, sqlite:PATH or file:PATH; default outreach.db), or PostgreSQL (postgres://USER@HOST/DB, for several app instances sharing one database)"},
	{"LISTEN_ADDR", "", "address to listen on (default 127.0.0.1:8080)"},
	{"VERIFY_SERVICE_NAME", "", "friendly name of the Twilio Verify service (found or created; default CUSTOMER_NAME)"},
	{"SEND_WINDOW", "", "local sending window, HH:MM-HH:MM (default 08:00-21:00; 00:00-24:00 for always)"},
	{"MAX_UPLOAD_BYTES", "", "largest CSV upload in bytes (default 10485760)"},
	{"CUSTOMER_NAME", "", "organisation name shown in the page header"},
	{"FLOWS_DIR", "", "folder of flow files uploaded before flows were kept in the database, imported once at start (default: uploaded-flows next to the database)"},
	{"ALERT_SMS_TO", "", "on-call phone, E.164: texted (ids and urgent words only) when a patient's reply holds urgent words"},
	{"ALERT_WEBHOOK_URL", "", "URL that gets a signed JSON POST for each urgent reply (needs ALERT_WEBHOOK_SECRET)"},
	{"ALERT_WEBHOOK_SECRET", "", "key of the webhook's Outreach-Signature (HMAC-SHA256; see outreach/notify)"},
	{"URGENT_TERMS", "", "comma-separated words that raise an alert (a final * matches word beginnings; none for none); default worse, emergency, chest pain, 911, call me, ..."},
	{"RETENTION_DAYS", "", "days after a campaign finished when its message texts and replies are deleted (ids, outcomes, counts and answers stay); default 0: kept forever"},
	{"TRUSTED_PROXY", "", "reverse proxies (IPs or CIDR prefixes, comma-separated) whose X-Forwarded-For gives the client address; default none"},
	{"DEV_CLOCK_START", "", "dev mode only: RFC 3339 instant the simulated clock starts at (such as 2026-03-11T07:00:00Z); default now"},
}

// loadConfig reads the configuration. args are the command-line
// arguments after the program name; getenv reads the environment.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", ".env", "`file` of KEY=VALUE settings, read if it exists (empty: none)")
	flagVals := map[string]*string{}
	for _, s := range settings {
		flagVals[s.name] = fs.String(flagName(s.name), "", s.help+" ($"+s.name+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: webapp [flags]\n       webapp hash-password < password.txt\n\n"+
			"Every setting is a flag, an environment variable or a line of the .env file.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (the only subcommand is hash-password)", fs.Arg(0))
	}

	file := map[string]string{}
	if *envFile != "" {
		b, err := os.ReadFile(*envFile)
		switch {
		case err == nil:
			if file, err = parseDotEnv(b); err != nil {
				return nil, usagef("%s: %v", *envFile, err)
			}
		case !errors.Is(err, os.ErrNotExist) || isFlagSet(fs, "env-file"):
			return nil, usagef("read %s: %v", *envFile, err)
		}
	}
	get := func(name string) string {
		if v := *flagVals[name]; v != "" {
			return v
		}
		if v := getenv(name); v != "" {
			return v
		}
		return file[name]
	}
	// The blueprint's names, for its users' .env files.
	for _, s := range settings {
		if s.alias == "" {
			continue
		}
		orig := get
		get = func(name string) string {
			if v := orig(name); v != "" || name != s.name {
				return v
			}
			if v := getenv(s.alias); v != "" {
				return v
			}
			return file[s.alias]
		}
	}

	cfg := &config{
		AccountSID:          strings.TrimSpace(get("TWILIO_ACCOUNT_SID")),
		AuthToken:           strings.TrimSpace(get("TWILIO_AUTH_TOKEN")),
		PhoneNumber:         strings.TrimSpace(get("TWILIO_PHONE_NUMBER")),
		MessagingServiceSID: strings.TrimSpace(get("TWILIO_MESSAGING_SERVICE_SID")),
		AdminPhone:          strings.TrimSpace(get("ADMINISTRATOR_PHONE")),
		PasswordHash:        strings.TrimSpace(get("PASSWORD_HASH")),
		PublicBaseURL:       strings.TrimRight(strings.TrimSpace(get("PUBLIC_BASE_URL")), "/"),
		ListenAddr:          strings.TrimSpace(get("LISTEN_ADDR")),
		VerifyServiceName:   strings.TrimSpace(get("VERIFY_SERVICE_NAME")),
		CustomerName:        strings.TrimSpace(get("CUSTOMER_NAME")),
		FlowsDir:            strings.TrimSpace(get("FLOWS_DIR")),
		Window:              outreach.DefaultWindow,
		MaxUploadBytes:      10 << 20,
		IdleTimeout:         15 * time.Minute,
		Lifetime:            8 * time.Hour,
		ProgressInterval:    500 * time.Millisecond,
		StudioPoll:          30 * time.Second,
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:8080"
	}
	if _, _, err := net.SplitHostPort(cfg.ListenAddr); err != nil {
		return nil, usagef("LISTEN_ADDR %q is not host:port (such as 127.0.0.1:8080)", cfg.ListenAddr)
	}
	var err error
	if cfg.DatabasePath, err = databasePath(get("DATABASE_URL")); err != nil {
		return nil, err
	}
	if cfg.TrustedProxies, err = verify.ParseTrustedProxies(get("TRUSTED_PROXY")); err != nil {
		return nil, usagef("TRUSTED_PROXY: %v", err)
	}
	if v := get("SEND_WINDOW"); v != "" {
		if cfg.Window, err = parseWindow(v); err != nil {
			return nil, err
		}
	}
	if err := cfg.alertSettings(get); err != nil {
		return nil, err
	}
	if v := strings.TrimSpace(get("RETENTION_DAYS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100*366 {
			return nil, usagef("RETENTION_DAYS %q must be a whole number of days (such as 365), or 0 to keep message texts forever", v)
		}
		cfg.RetentionDays = n
	}
	if v := get("MAX_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 1024 {
			return nil, usagef("MAX_UPLOAD_BYTES %q must be a number of bytes, at least 1024 (such as 10485760 for 10 MB)", v)
		}
		cfg.MaxUploadBytes = n
	}
	if getenv("VERIFY_SERVICE_SID") != "" || file["VERIFY_SERVICE_SID"] != "" {
		cfg.Warnings = append(cfg.Warnings, "VERIFY_SERVICE_SID is ignored: the Verify service is found (or created) by its friendly name, VERIFY_SERVICE_NAME")
	}
	if plain := get("APPLICATION_PASSWORD"); plain != "" {
		if cfg.PasswordHash != "" {
			return nil, usagef("set PASSWORD_HASH or APPLICATION_PASSWORD, not both")
		}
		h, err := verify.HashPassword(plain)
		if err != nil {
			return nil, usagef("APPLICATION_PASSWORD: %v", err)
		}
		cfg.PasswordHash = h
		cfg.Warnings = append(cfg.Warnings, "APPLICATION_PASSWORD holds a plaintext password: replace it with PASSWORD_HASH (go run ./examples/webapp hash-password)")
	}
	if cfg.PasswordHash != "" {
		// A wrong password checked against a valid hash tells us the hash is readable.
		if err := verify.CheckPassword(cfg.PasswordHash, "-"); errors.Is(err, verify.ErrBadHash) {
			return nil, usagef("PASSWORD_HASH is not an argon2id hash from hash-password: %v", err)
		}
	}
	if cfg.PublicBaseURL != "" {
		u, err := url.Parse(cfg.PublicBaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, usagef("PUBLIC_BASE_URL %q must be a base URL such as https://outreach.example.org (scheme and host, no path)", cfg.PublicBaseURL)
		}
	}

	devStart := strings.TrimSpace(get("DEV_CLOCK_START"))
	switch {
	case cfg.AccountSID == "" && cfg.AuthToken == "":
		if devStart != "" {
			t, err := time.Parse(time.RFC3339, devStart)
			if err != nil {
				return nil, usagef("DEV_CLOCK_START %q is not an RFC 3339 instant such as 2026-03-11T07:00:00Z", devStart)
			}
			cfg.DevClockStart = t.UTC()
		}
		return cfg, cfg.devDefaults()
	case cfg.AccountSID == "" || cfg.AuthToken == "":
		return nil, usagef("set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or neither for dev mode")
	}
	if devStart != "" {
		return nil, usagef("DEV_CLOCK_START is for dev mode only (no Twilio credentials): with real Twilio the clock is the real one")
	}
	if cfg.PhoneNumber == "" && cfg.MessagingServiceSID == "" {
		return nil, usagef("set TWILIO_PHONE_NUMBER or TWILIO_MESSAGING_SERVICE_SID: the number (or service) campaigns send from")
	}
	if cfg.PhoneNumber != "" {
		if cfg.PhoneNumber, err = outreach.NormalizePhone(cfg.PhoneNumber, "US"); err != nil {
			return nil, usagef("TWILIO_PHONE_NUMBER: %v", err)
		}
	}
	if cfg.MessagingServiceSID != "" && !strings.HasPrefix(cfg.MessagingServiceSID, "MG") {
		return nil, usagef("TWILIO_MESSAGING_SERVICE_SID must start with MG")
	}
	// The first administrator: both settings, or neither when the users
	// are in the database already (an earlier start, or cli users add).
	switch {
	case cfg.AdminPhone == "" && cfg.PasswordHash == "":
	case cfg.AdminPhone == "":
		return nil, usagef("set ADMINISTRATOR_PHONE with PASSWORD_HASH: the first administrator's phone, where login codes are texted")
	case cfg.PasswordHash == "":
		return nil, usagef("set PASSWORD_HASH with ADMINISTRATOR_PHONE (go run ./examples/webapp hash-password prints one)")
	}
	if cfg.AdminPhone != "" {
		if cfg.AdminPhone, err = outreach.NormalizePhone(cfg.AdminPhone, "US"); err != nil {
			return nil, usagef("ADMINISTRATOR_PHONE: %v", err)
		}
	}
	if cfg.PublicBaseURL == "" {
		return nil, usagef("set PUBLIC_BASE_URL: the https URL where Twilio reaches this app (its webhooks are PUBLIC_BASE_URL/twilio/sms and /twilio/status)")
	}
	if cfg.VerifyServiceName == "" {
		cfg.VerifyServiceName = cfg.CustomerName
	}
	if cfg.VerifyServiceName == "" {
		cfg.VerifyServiceName = "Patient Outreach"
	}
	if len(cfg.VerifyServiceName) > verify.MaxServiceNameLen {
		return nil, usagef("VERIFY_SERVICE_NAME (or CUSTOMER_NAME) must be at most %d characters: Twilio shows it in the code's text", verify.MaxServiceNameLen)
	}
	return cfg, nil
}

// sendsHSTS reports whether responses carry Strict-Transport-Security:
// in real mode, when PUBLIC_BASE_URL is https (TLS may end at a proxy in
// front of the app). Never in dev mode: on http://localhost the header
// would be ignored at best, and would pin every other app the developer
// serves on localhost to https at worst.
func (cfg *config) sendsHSTS() bool {
	if cfg.Dev {
		return false
	}
	u, err := url.Parse(cfg.PublicBaseURL)
	return err == nil && strings.EqualFold(u.Scheme, "https")
}

// devDefaults fills in dev mode: a fake number, a fake administrator
// phone, and a random password unless one is configured.
func (cfg *config) devDefaults() error {
	cfg.Dev = true
	cfg.StudioPoll = 2 * time.Second
	if cfg.PhoneNumber == "" {
		cfg.PhoneNumber = devNumber
	}
	if cfg.AdminPhone == "" {
		cfg.AdminPhone = devAdminPhone
	}
	if cfg.PasswordHash == "" {
		cfg.DevPassword = randomPassword()
		h, err := verify.HashPassword(cfg.DevPassword)
		if err != nil {
			return err
		}
		cfg.PasswordHash = h
	}
	return nil
}

func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// databasePath reads DATABASE_URL: empty (outreach.db), a path,
// sqlite:PATH, sqlite://PATH or file:PATH for SQLite, or a postgres:// or
// postgresql:// URL, returned as it is.
func databasePath(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case storeopen.IsPostgres(v):
		return v, nil
	case v == "":
		return "outreach.db", nil
	case strings.HasPrefix(v, "sqlite://"):
		v = strings.TrimPrefix(v, "sqlite://")
	case strings.HasPrefix(v, "sqlite:"):
		v = strings.TrimPrefix(v, "sqlite:")
	case strings.HasPrefix(v, "file:"):
		v = strings.TrimPrefix(v, "file:")
		if i := strings.IndexByte(v, '?'); i >= 0 {
			v = v[:i]
		}
	case strings.Contains(v, "://"):
		scheme, _, _ := strings.Cut(v, "://")
		return "", usagef("DATABASE_URL: give an SQLite file (a path, sqlite:PATH or file:PATH) or a postgres:// URL, not %s://", scheme)
	}
	if v == "" || strings.HasPrefix(v, ":memory:") {
		return "", usagef("DATABASE_URL: give an SQLite file path, such as outreach.db")
	}
	return v, nil
}

// parseWindow reads SEND_WINDOW.
func parseWindow(v string) (outreach.Window, error) {
	w, err := outreach.ParseWindow(v)
	if err != nil {
		return outreach.Window{}, usagef("SEND_WINDOW: %v", err)
	}
	return w, nil
}

// parseDotEnv reads KEY=VALUE lines: blank lines and # comments are
// skipped, "export " is allowed, values may be quoted ('...' verbatim,
// "..." with \n, \" and \\ escapes), and an unquoted value ends at " #".
func parseDotEnv(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\"'") {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		val = strings.TrimSpace(val)
		switch {
		case len(val) >= 2 && val[0] == '\'' && strings.IndexByte(val[1:], '\'') >= 0:
			val = val[1 : 1+strings.IndexByte(val[1:], '\'')]
		case len(val) >= 1 && val[0] == '"':
			var sb strings.Builder
			closed := false
			for i := 1; i < len(val); i++ {
				c := val[i]
				if c == '\\' && i+1 < len(val) {
					i++
					switch val[i] {
					case 'n':
						sb.WriteByte('\n')
					default:
						sb.WriteByte(val[i])
					}
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				sb.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("line %d: unterminated quote", n)
			}
			val = sb.String()
		default:
			if i := strings.Index(val, " #"); i >= 0 {
				val = strings.TrimSpace(val[:i])
			}
		}
		out[key] = val
	}
	return out, sc.Err()
}

// alertSettings reads who is told of urgent replies, and which words are.
func (cfg *config) alertSettings(get func(string) string) error {
	cfg.AlertWebhookURL = strings.TrimSpace(get("ALERT_WEBHOOK_URL"))
	cfg.AlertWebhookSecret = strings.TrimSpace(get("ALERT_WEBHOOK_SECRET"))
	if to := strings.TrimSpace(get("ALERT_SMS_TO")); to != "" {
		var err error
		if cfg.AlertSMSTo, err = outreach.NormalizePhone(to, "US"); err != nil {
			return usagef("ALERT_SMS_TO: %v", err)
		}
	}
	if cfg.AlertWebhookURL != "" {
		u, err := url.Parse(cfg.AlertWebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usagef("ALERT_WEBHOOK_URL %q must be an http(s) URL", cfg.AlertWebhookURL)
		}
		if len(cfg.AlertWebhookSecret) < 16 {
			return usagef("ALERT_WEBHOOK_URL needs ALERT_WEBHOOK_SECRET, at least 16 characters: its receiver checks the Outreach-Signature with it")
		}
	}
	terms := outreach.DefaultUrgentTerms
	switch v := strings.TrimSpace(get("URGENT_TERMS")); v {
	case "":
	case "none":
		terms = nil
	default:
		terms = strings.Split(v, ",")
	}
	u, err := outreach.NewUrgentTerms(terms)
	if err != nil {
		return usagef("URGENT_TERMS: %v", err)
	}
	cfg.Urgent = u
	return nil
}
