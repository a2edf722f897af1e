package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/patient-outreach/sms/internal/storeopen"
	"github.com/patient-outreach/sms/outreach"
	"github.com/patient-outreach/sms/outreach/twiliosms"
	"github.com/patient-outreach/sms/studio"
	"github.com/patient-outreach/sms/verify"
	"github.com/patient-outreach/sms/verify/twilioverify"
)

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

// Dev mode's fake numbers.
const (
	devNumber     = "+15005550006" // the app's sending number
	devAdminPhone = "+15005550100" // where login codes "go"
)

// twilioAccount is what every Twilio client of the app needs: the real
// account, or the fake's in dev mode.
type twilioAccount struct {
	AccountSID, AuthToken string
	// HTTPClient is nil for the real Twilio, the fake's client in dev mode.
	HTTPClient *http.Client
}

// app is the web app: its store, runtimes, login and pages.
type app struct {
	cfg      *config
	log      *slog.Logger
	stderr   io.Writer
	db       *storeopen.DB    // the database DATABASE_URL names
	store    storeopen.Store  // db.Store
	runner   *outreach.Runner // the embedded runtime, which the webhooks feed
	runtimes map[string]outreach.Runtime
	deployer *studio.Deployer
	login    *verify.Login
	sessions *scs.SessionManager
	flows    *flowLibrary
	dev      *devMode // nil unless in dev mode
	zones    zoneCache
	pages    map[string]*template.Template
	handler  http.Handler

	// retention deletes finished campaigns' texts (RETENTION_DAYS).
	retention *outreach.Retention

	// stopping is closed when the server starts shutting down: live
	// progress streams end so that Shutdown need not wait for them.
	stopping  chan struct{}
	stopOnce  sync.Once
	bgCancel  context.CancelFunc
	bg        sync.WaitGroup
	closeOnce sync.Once
}

// newServer builds the app: it opens the store, starts the fake Twilio in
// dev mode and builds the runtimes, but starts no background work (see
// app.start). cfg.PublicBaseURL must be set. Close the app when done.
func newServer(ctx context.Context, cfg *config, stderr io.Writer, logger *slog.Logger) (_ *app, err error) {
	if cfg.PublicBaseURL == "" {
		return nil, errors.New("newServer: PublicBaseURL is not set")
	}
	a := &app{cfg: cfg, log: logger, stderr: stderr, stopping: make(chan struct{})}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.db, err = storeopen.Open(ctx, cfg.DatabasePath); err != nil {
		return nil, fmt.Errorf("open the database %s: %w", storeopen.Redact(cfg.DatabasePath), err)
	}
	a.store = a.db.Store
	dir := cfg.FlowsDir
	if dir == "" {
		// Next to an SQLite file; in the working directory with Postgres.
		dir = filepath.Join(filepath.Dir(a.db.Path), "uploaded-flows")
	}
	a.flows = &flowLibrary{store: a.store, log: logger}
	// FLOWS_DIR is read once, for the flows uploaded before they were
	// kept in the database.
	if err := a.flows.importDir(ctx, dir); err != nil {
		return nil, fmt.Errorf("import the flows of FLOWS_DIR %s: %w", dir, err)
	}

	account := twilioAccount{AccountSID: cfg.AccountSID, AuthToken: cfg.AuthToken}
	var codes verify.CodeSender
	if cfg.Dev {
		// The simulated world starts at DEV_CLOCK_START (or now), and never
		// before the latest time it had reached when the app last ran.
		world, err := loadDevWorld(ctx, a.store)
		if err != nil {
			return nil, fmt.Errorf("dev mode: read the simulated world back from the database: %w", err)
		}
		start := cfg.DevClockStart
		if start.IsZero() {
			start = time.Now()
		}
		if world.latest.After(start) {
			start = world.latest
		}
		a.dev = newDevMode(cfg, logger, start)
		a.dev.restore(world)
		if n := len(world.recipients); n > 0 {
			logger.Info("dev mode: phones recreated for unfinished campaigns", "recipients", n)
		}
		account = a.dev.account()
		codes = &verify.LocalCodes{Notify: func(to, code string) {
			// The operator reads the code here; it never goes to the logger.
			fmt.Fprintf(stderr, "\n  dev mode: login code for %s is %s\n\n", outreach.MaskPhone(to), code)
		}}
	} else {
		account.HTTPClient = cfg.twilioHTTP
		if codes, err = twilioverify.New(ctx, twilioverify.Config{
			AccountSID: cfg.AccountSID, AuthToken: cfg.AuthToken, ServiceName: cfg.VerifyServiceName,
			HTTPClient: cfg.twilioHTTP,
		}); err != nil {
			return nil, fmt.Errorf("twilio verify: %w", err)
		}
	}
	if err := a.ensureAdmin(ctx); err != nil {
		return nil, err
	}
	if a.login, err = verify.New(verify.Config{Users: a.store, Codes: codes, Attempts: a.store, Challenges: a.store}); err != nil {
		return nil, err
	}
	if a.deployer, err = studio.NewDeployer(studio.DeployConfig{
		AccountSID: account.AccountSID, AuthToken: account.AuthToken, HTTPClient: account.HTTPClient,
	}); err != nil {
		return nil, err
	}
	var clock outreach.Clock = outreach.SystemClock{}
	if a.dev != nil {
		clock = a.dev.clock
	}
	if a.runner, err = newEmbedded(a.store, account, clock, cfg, logger); err != nil {
		return nil, err
	}
	if a.runtimes, err = newRuntimes(a.runner, a.store, a.deployer, clock, cfg, logger); err != nil {
		return nil, err
	}
	a.retention = &outreach.Retention{Store: a.store, Period: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		Clock: clock, Logger: logger}

	a.sessions = scs.New()
	a.sessions.Store = a.db.Sessions
	a.sessions.HashTokenInStore = true // the database holds no usable token
	a.sessions.IdleTimeout = cfg.IdleTimeout
	a.sessions.Lifetime = cfg.Lifetime
	a.sessions.Cookie = scs.SessionCookie{
		// __Host-: only from a secure origin, no Domain, Path=/. Browsers
		// take Secure cookies from http://localhost too, so dev mode works.
		Name:     "__Host-session",
		HttpOnly: true,
		Secure:   true,
		Path:     "/",
		// Lax, not Strict: a link to the app from an e-mail or a chat
		// opens it logged in. Cross-site POSTs are refused anyway by
		// http.CrossOriginProtection.
		SameSite: http.SameSiteLaxMode,
		Persist:  true,
	}
	a.sessions.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		a.log.Error("session store", "err", err)
		a.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
	}

	if a.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if a.handler, err = a.routes(); err != nil {
		return nil, err
	}
	return a, nil
}

// start starts the background work: each runtime's Run, the purge of
// expired uploads, the retention purge (when RETENTION_DAYS is set)
// and, in dev mode, the fake Twilio's. Each goroutine is owned by the
// app: stop cancels them and waits.
func (a *app) start(ctx context.Context) {
	ctx, a.bgCancel = context.WithCancel(ctx)
	for name, rt := range a.runtimes {
		a.bg.Go(func() {
			if err := rt.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("runtime stopped", "runtime", name, "err", err)
			}
		})
	}
	if a.db.Listen != nil {
		// Postgres: work that any process creates (new conversations,
		// replies, delivery failures) wakes the idle runtimes at once;
		// they poll anyway.
		a.bg.Go(func() {
			if err := a.db.Listen(ctx, a.wakeRuntimes); err != nil && ctx.Err() == nil {
				a.log.Error("database notifications stopped; runtimes still poll", "err", err)
			}
		})
	}
	if a.dev != nil {
		a.bg.Go(func() { a.dev.run(ctx) })
	}
	a.bg.Go(func() { a.purgeUploadsEvery(ctx) })
	if a.retention.Period > 0 {
		a.log.Info("retention: message texts and replies are deleted after campaigns finish", "days", a.cfg.RetentionDays)
		a.bg.Go(func() { a.retention.Run(ctx) }) // logs its own failures
	} else {
		a.log.Info("retention: RETENTION_DAYS is not set, message texts and replies are kept forever")
	}
}

// wakeRuntimes makes every runtime that can be woken look for work now.
func (a *app) wakeRuntimes() {
	for _, rt := range a.runtimes {
		if w, ok := rt.(interface{ Wake() }); ok {
			w.Wake()
		}
	}
}

// stop cancels the background work and waits for it: runtimes finish
// the sends they have started.
func (a *app) stop() {
	if a.bgCancel != nil {
		a.bgCancel()
	}
	a.bg.Wait()
}

// Close stops the background work and releases everything.
func (a *app) Close() error {
	var err error
	a.closeOnce.Do(func() {
		a.beginShutdown()
		a.stop()
		if a.dev != nil {
			a.dev.close()
		}
		if a.db != nil {
			err = a.db.Close()
		}
	})
	return err
}

// beginShutdown ends the live progress streams.
func (a *app) beginShutdown() {
	a.stopOnce.Do(func() { close(a.stopping) })
}

// serve runs the server on cfg.ListenAddr until ctx is done, then shuts
// down gracefully: it stops taking requests and waits for those in
// progress, then stops the runtimes, which finish their in-flight sends.
func serve(ctx context.Context, cfg *config, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = "http://localhost:" + port
	}
	a, err := newServer(ctx, cfg, stderr, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	a.start(context.WithoutCancel(ctx))

	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.beginShutdown)
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	a.printBanner(port)
	logger.Info("listening", "addr", ln.Addr().String(), "public_base_url", cfg.PublicBaseURL, "dev", cfg.Dev)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }() // owned: serve waits for it below
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc
	a.stop()
	logger.Info("stopped")
	return err
}

// printBanner tells the operator where the app is; in dev mode the
// password too. Plain stderr, never the logger.
func (a *app) printBanner(port string) {
	url := "http://localhost:" + port
	if !a.cfg.Dev {
		fmt.Fprintf(a.stderr, "\nPatient Outreach is running: %s (public URL %s)\n"+
			"  Twilio webhooks: set the number's \"A message comes in\" to POST %s/twilio/sms;\n"+
			"  delivery statuses come to %s/twilio/status.\n\n",
			url, a.cfg.PublicBaseURL, a.cfg.PublicBaseURL, a.cfg.PublicBaseURL)
		return
	}
	pw := a.cfg.DevPassword
	if pw == "" {
		pw = "(the one configured)"
	}
	fmt.Fprintf(a.stderr, "\nPatient Outreach, dev mode (fake Twilio, simulated phones)\n"+
		"  open:      %s\n"+
		"  user:      %s\n"+
		"  password:  %s\n"+
		"  login codes appear on this terminal.\n\n", url, firstAdmin, pw)
}

// randomPassword returns a dev password of 20 characters.
func randomPassword() string {
	return rand.Text()[:20]
}

// webhookRetry is how long a webhook keeps trying to record what Twilio
// sent while the database fails (a restart, a failover): Twilio does not
// send an SMS webhook again, and waits 15 seconds for an answer.
const webhookRetry = 10 * time.Second

// routes builds the handler: webhooks, static files and health checks
// outside the session, every page behind it and behind CSRF protection.
func (a *app) routes() (http.Handler, error) {
	inbound, err := twiliosms.InboundHandler(a.runner, twiliosms.WebhookConfig{
		AuthToken: a.authToken(), PublicURL: a.cfg.PublicBaseURL + "/twilio/sms", Logger: a.log, Retry: webhookRetry,
	})
	if err != nil {
		return nil, err
	}
	status, err := twiliosms.StatusHandler(a.runner, twiliosms.WebhookConfig{
		AuthToken: a.authToken(), PublicURL: a.cfg.PublicBaseURL + "/twilio/status", Logger: a.log, Retry: webhookRetry,
	})
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}

	pages := http.NewServeMux()
	pages.HandleFunc("GET /login", a.loginPage)
	pages.HandleFunc("POST /login", a.loginPassword)
	pages.HandleFunc("POST /login/code", a.loginCode)
	pages.HandleFunc("POST /login/restart", a.loginRestart)
	pages.HandleFunc("POST /logout", a.logout)
	// Each page needs a role: viewers read, operators also run campaigns,
	// administrators also manage the users.
	route := func(need verify.Role, pattern string, h http.HandlerFunc) {
		pages.Handle(pattern, a.requireRole(need, h))
	}
	viewer := func(pattern string, h http.HandlerFunc) { route(verify.RoleViewer, pattern, h) }
	operator := func(pattern string, h http.HandlerFunc) { route(verify.RoleOperator, pattern, h) }
	admin := func(pattern string, h http.HandlerFunc) { route(verify.RoleAdmin, pattern, h) }
	viewer("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/campaigns", http.StatusSeeOther)
	})
	viewer("GET /flows", a.flowsPage)
	operator("POST /flows", a.uploadFlow)
	operator("POST /flows/import-studio", a.importStudioFlow)
	viewer("GET /flows/{id}", a.flowPage)
	viewer("GET /flows/{id}/sample.csv", a.sampleCSV)
	operator("POST /flows/{id}/deploy", a.deployFlow)
	operator("POST /flows/{id}/undeploy", a.undeployFlow)
	operator("POST /flows/{id}/delete", a.deleteFlow)
	operator("POST /number/release", a.releaseNumber)
	viewer("GET /campaigns", a.campaignsPage)
	operator("GET /campaigns/new", a.newCampaignPage)
	operator("POST /campaigns/new", a.uploadRecipients)
	operator("GET /uploads/{key}", a.previewPage)
	operator("POST /uploads/{key}/start", a.confirmCampaign)
	operator("POST /uploads/{key}/discard", a.discardUpload)
	viewer("GET /campaigns/{id}", a.campaignPage)
	viewer("GET /campaigns/{id}/events", a.progressEvents)
	viewer("GET /campaigns/{id}/responses.csv", a.responsesCSV)
	viewer("GET /campaigns/{id}/responses.ndjson", a.responsesFHIR)
	operator("POST /campaigns/{id}/{action}", a.campaignAction) // start, pause, resume, cancel
	operator("POST /campaigns/{id}/alerts/{alert}/ack", a.ackAlert)
	operator("POST /alerts/{alert}/ack", a.ackStrayAlert)
	viewer("GET /optouts", a.optOutsPage)
	operator("GET /optouts.csv", a.optOutsCSV)
	operator("POST /optouts", a.importOptOuts)
	admin("GET /audit", a.auditPage)
	admin("GET /audit.csv", a.auditCSV)
	admin("GET /users", a.usersPage)
	admin("POST /users", a.createUser)
	admin("POST /users/{name}", a.updateUser)
	admin("POST /users/{name}/password", a.resetPassword)
	if a.dev != nil {
		viewer("GET /simulator", a.simulatorPage)
		operator("POST /simulator/reply", a.simulatorReply)
		// Dev mode only: with real Twilio this route does not exist (404).
		operator("POST /dev/skip", a.skipClock)
	}
	pages.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusNotFound, "There is no such page.")
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused. Open the page in this app and send it again.")
	}))

	mux := http.NewServeMux()
	// Twilio's webhooks: signed, so no session and no CSRF check.
	mux.Handle("POST /twilio/sms", inbound)
	mux.Handle("POST /twilio/status", status)
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("/", cop.Handler(a.sessions.LoadAndSave(pages)))
	return a.accessLog(securityHeaders(mux, a.cfg.sendsHSTS())), nil
}

func (a *app) authToken() string {
	if a.dev != nil {
		return a.dev.srv.AuthToken()
	}
	return a.cfg.AuthToken
}

// readyz answers 200 when the database answers.
func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if _, err := a.store.SchemaVersion(ctx); err != nil {
		a.log.Warn("readyz: database not reachable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "database not reachable\n")
		return
	}
	io.WriteString(w, "ready\n")
}

func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// csp allows only the app's own scripts, styles and connections.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// hsts is the Strict-Transport-Security of an app served over https:
// browsers use https only, for two years, on its subdomains too.
const hsts = "max-age=63072000; includeSubDomains"

// securityHeaders sets the headers every response carries, and
// Strict-Transport-Security when withHSTS is set. Pages hold PHI, so they
// are not cached.
func securityHeaders(next http.Handler, withHSTS bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if withHSTS {
			h.Set("Strict-Transport-Security", hsts)
		}
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status for the access log. It passes Flush
// on (live progress streams) through Unwrap.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

func (sw *statusWriter) Flush() { http.NewResponseController(sw.ResponseWriter).Flush() }

func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// accessLog logs each request: method, path (never the query), status and
// duration. Paths hold ids only, never PHI.
func (a *app) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		a.log.Info("http", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"duration", time.Since(start).Round(time.Microsecond))
	})
}

// requireRole lets through the sessions of enabled users whose role
// allows need; other logged-in users get 403, and the others go to the
// login page (GET) or get 401 (anything else).
func (a *app) requireRole(need verify.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.currentUser(r)
		switch {
		case ok && u.Role.Allows(need):
			h(w, r)
		case ok:
			action, objType, objID := deniedAction(r)
			a.auditDenied(r, action, objType, objID)
			a.errorPage(w, r, http.StatusForbidden, "Your role ("+string(u.Role)+") does not allow this. Ask an administrator.")
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		default:
			a.errorPage(w, r, http.StatusUnauthorized, "Your session has ended. Log in again, then repeat what you were doing.")
		}
	})
}

// currentUser returns the logged-in user of the request: the session's
// "user", if that user still exists and is not disabled. A session of a
// user who was disabled or removed ends.
func (a *app) currentUser(r *http.Request) (verify.User, bool) {
	ctx := r.Context()
	name := a.sessions.GetString(ctx, "user")
	if name == "" {
		return verify.User{}, false
	}
	u, err := a.store.GetUser(ctx, name)
	if err != nil || u.Disabled {
		if err != nil && !errors.Is(err, verify.ErrNoUser) {
			a.log.Error("read the session's user", "err", err)
			return verify.User{}, false
		}
		a.sessions.Remove(ctx, "user")
		return verify.User{}, false
	}
	return u, true
}

// pageData is what every page template gets.
type pageData struct {
	// DevNow is the simulated clock's time in dev mode.
	DevNow   time.Time
	Title    string
	Nav      string
	Customer string
	Dev      bool
	LoggedIn bool
	// User and Role are the logged-in user's.
	User   string
	Role   verify.Role
	Flash  string
	Error  string
	Status int
	Page   any
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"mask": outreach.MaskPhone,
		// Instants are shown in UTC, labelled, and app.js shows them in
		// the viewer's zone, labelled with its abbreviation.
		"when":  func(t time.Time) template.HTML { return timeHTML(t, "Jan 2, 2006 15:04", "datetime") },
		"clock": func(t time.Time) template.HTML { return timeHTML(t, "Jan 2 15:04:05", "time") },
		"join":  strings.Join,
		"plus1": func(i int) int { return i + 1 },
		// can reports whether a user of role have may do what needs need.
		"can": func(have verify.Role, need string) bool { return have.Allows(verify.Role(need)) },
	}
	names, err := fs.Glob(templatesFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := filepath.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templatesFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}

// render writes a page with the layout. The flash message, if any, is
// shown once.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	ctx := r.Context()
	d.Customer = a.cfg.CustomerName
	d.Dev = a.cfg.Dev
	if a.dev != nil {
		d.DevNow = a.dev.clock.Now()
	}
	if u, ok := a.currentUser(r); ok {
		d.LoggedIn, d.User, d.Role = true, u.Name, u.Role
	}
	if d.Flash == "" {
		d.Flash = a.sessions.PopString(ctx, "flash")
	}
	if d.Error == "" {
		d.Error = a.sessions.PopString(ctx, "error")
	}
	d.Status = status
	t, ok := a.pages[name]
	if !ok {
		panic("no page template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		a.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a message with a status. It works outside the session
// too (CSRF refusals, session store failures).
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := pageData{Title: http.StatusText(status), Customer: a.cfg.CustomerName, Dev: a.cfg.Dev, Status: status, Page: msg}
	if a.dev != nil {
		d.DevNow = a.dev.clock.Now()
	}
	var buf bytes.Buffer
	if err := a.pages["error"].ExecuteTemplate(&buf, "layout", d); err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// flash keeps a message for the next page.
func (a *app) flash(r *http.Request, msg string) { a.sessions.Put(r.Context(), "flash", msg) }

// flashError keeps an error message for the next page.
func (a *app) flashError(r *http.Request, msg string) { a.sessions.Put(r.Context(), "error", msg) }

// internalError logs err (no PHI: errors of this module never hold any)
// and shows a generic page.
func (a *app) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.Error(what, "path", r.URL.Path, "err", err)
	a.errorPage(w, r, http.StatusInternalServerError, "Something went wrong: "+what+". Try again; if it keeps happening, check the server's log.")
}
