package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/patient-outreach/sms/csvio"
	"github.com/patient-outreach/sms/outreach"
)

// optOutsPage is what the opt-outs page shows.
type optOutsPage struct {
	// OptedOut counts the phones opted out now; OptedIn those that opted
	// out once and back in since.
	OptedOut, OptedIn int
	MaxUpload         string
	// Import is the result of the import just made, if any.
	Import *optOutsImport
}

// optOutsImport is the result of an upload of an opt-outs file.
type optOutsImport struct {
	FileName string
	Rows     int
	Recorded int
	Errors   []*csvio.RowError
}

// optOutsPage shows how many phones are opted out, a link to download
// them all as CSV, and a form to import a CRM's file.
func (a *app) optOutsPage(w http.ResponseWriter, r *http.Request) {
	a.renderOptOuts(w, r, http.StatusOK, nil)
}

func (a *app) renderOptOuts(w http.ResponseWriter, r *http.Request, status int, imp *optOutsImport) {
	p := optOutsPage{MaxUpload: byteSize(a.cfg.MaxUploadBytes), Import: imp}
	after := ""
	for {
		page, err := a.store.OptOuts(r.Context(), after, 1000)
		if err != nil {
			a.internalError(w, r, "counting the opt-outs", err)
			return
		}
		if len(page) == 0 {
			break
		}
		for _, o := range page {
			if o.OptedOut {
				p.OptedOut++
			} else {
				p.OptedIn++
			}
		}
		after = page[len(page)-1].Phone
	}
	a.render(w, r, status, "optouts", pageData{Title: "Opt-outs", Nav: "optouts", Page: p})
}

// optOutsCSV downloads every phone's latest opt-out change.
func (a *app) optOutsCSV(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="optouts.csv"`)
	rows, err := csvio.ExportOptOuts(r.Context(), w, a.store)
	a.audit(r, outreach.ActionOptOutsExported, resultOf(err), "", "", fmt.Sprintf("rows=%d", rows))
	if err != nil {
		a.log.Error("opt-outs export", "rows", rows, "err", err)
		return // the client sees a truncated download
	}
	a.log.Info("opt-outs exported", "rows", rows)
}

// importOptOuts records the opt-outs of an uploaded CRM file: every good
// row at its changed_at (or now), and shows the bad rows by line.
func (a *app) importOptOuts(w http.ResponseWriter, r *http.Request) {
	if !a.parseUpload(w, r, "/optouts") {
		return
	}
	defer r.MultipartForm.RemoveAll()
	file, hdr, err := r.FormFile("optouts")
	if err != nil {
		a.flashError(r, "Choose the CSV file of opt-outs.")
		http.Redirect(w, r, "/optouts", http.StatusSeeOther)
		return
	}
	defer file.Close()
	name := filepath.Base(hdr.Filename)
	res, err := csvio.ReadOptOuts(file, csvio.Options{MaxBytes: a.cfg.MaxUploadBytes})
	if err != nil {
		a.csvReadError(w, r, err, name, "/optouts", ". Nothing was imported.")
		return
	}
	n, refused, err := csvio.ImportOptOuts(r.Context(), a.store, world(a.cfg), res.OptOuts, a.now())
	a.audit(r, outreach.ActionOptOutsImported, resultOf(err), "", "", fmt.Sprintf("rows=%d recorded=%d refused=%d", res.Rows, n, len(res.Errors)+len(refused)))
	if err != nil {
		a.internalError(w, r, "recording the opt-outs", err)
		return
	}
	errs := slices.SortedStableFunc(slices.Values(append(res.Errors, refused...)), func(x, y *csvio.RowError) int { return x.Line - y.Line })
	a.log.Info("opt-outs imported", "rows", res.Rows, "recorded", n, "errors", len(errs))
	imp := &optOutsImport{FileName: name, Rows: res.Rows, Recorded: n, Errors: errs}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	a.renderOptOuts(w, r, status, imp)
}

// Summary is the line the page shows after an import.
func (imp *optOutsImport) Summary() string {
	return fmt.Sprintf("%s: %d rows, %d recorded, %d with errors.", imp.FileName, imp.Rows, imp.Recorded, len(imp.Errors))
}
