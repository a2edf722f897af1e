// Package csvio reads recipient lists from CSV files and writes responses
// to CSV files, for the outreach package; it also exchanges opt-outs with
// a CRM as CSV.
//
// # Reading recipients
//
// A recipients file has a header naming patient_id, patient_first_name (or
// patient_first) and patient_phone, matched whatever their case, order and
// surrounding spaces; an optional timezone column (an IANA name such as
// America/Phoenix); and any other columns, which are kept in
// [outreach.Recipient.Attrs] under their lower-cased, trimmed header:
//
//	patient_id,patient_first_name,patient_phone,timezone,clinic
//	A-1001,Maya,(440) 644-3709,,Westlake
//
// Files saved by spreadsheets read as they are: a UTF-8 byte order mark,
// CRLF line ends, quoted cells holding commas or line breaks, ';' as the
// delimiter (detected from the header), blank lines and ";;;" lines. Phone
// numbers are normalised to E.164 with [outreach.NormalizePhone].
//
// [ReadAll] reads a whole file; every data row ends up either as a
// recipient or with at least one [RowError] naming its line and column.
// Nothing is dropped silently:
//
//	res, err := csvio.ReadAll(ctx, file, csvio.Options{})
//	if err != nil {
//		return err // *HeaderError, *LimitError, or a read error
//	}
//	for _, e := range res.Errors {
//		fmt.Println(e) // line 7, column patient_phone: phone number is too short: ...
//	}
//	use(res.Recipients)
//
// A [RecipientReader] reads the same rows one at a time, holding neither the
// file nor the rows in memory (only the ids and phones seen, to report
// duplicates). Limits on the file size, row count, header columns, line
// length and cell length ([Options]) keep a bad upload from exhausting
// memory: a line over the limit (64 KiB by default) is refused while it is
// read, before it is held whole.
//
// A campaign that may only write to patients who agreed sets
// Options.RequireConsent: the file must then have a consent column, and a
// row whose consent is not yes, y, true or 1 is reported as a row error
// (ErrNoConsent) and never becomes a recipient.
//
// A row's problems are either errors, which make the row unusable (empty or
// duplicate patient_id, missing or invalid phone, unknown time zone, cell
// too long, broken CSV syntax), or warnings, which do not (a phone shared
// with another row, as family members share phones; an empty first name).
// Messages name the line and column, never the value, so that they can be
// logged. Use [errors.Is] with the Err sentinels to tell them apart.
//
// Decoding uses gocsv's Unmarshaller over an encoding/csv reader of the
// package's own, which picks the delimiter and gives true line numbers.
// The package sets none of gocsv's package-level settings and expects their
// defaults (struct tag "csv", no header normaliser).
//
// # Writing responses
//
// A [ResponseWriter] writes one row per recipient per question. Every cell
// that a spreadsheet could run as a formula (starting with '=', '+', '-',
// '@', a tab or a carriage return) gets a leading single quote, as OWASP
// advises against CSV injection; see [Neutralize]. That includes E.164
// phone numbers, which start with '+'.
//
// # Opt-outs
//
// [ExportOptOuts] writes every phone's latest opt-out change
// (phone,opted_out,changed_at) from a store; [ReadOptOuts] reads a CRM's
// file (a phone or patient_phone column, optional opted_out and
// changed_at) with the same row-level errors as recipients, and
// [ImportOptOuts] records its rows, each at its own time, so an older CRM
// entry never overrides a newer STOP or START:
//
//	file, err := csvio.ReadOptOuts(r, csvio.Options{})
//	...
//	n, refused, err := csvio.ImportOptOuts(ctx, store, world, file.OptOuts, clock.Now())
//
// # Audit trail
//
// [ExportAudit] writes the audit entries a filter selects
// (id,at,actor,action,result,object_type,object_id,client,detail), with
// the same protection against formulas:
//
//	n, err := csvio.ExportAudit(ctx, w, store, outreach.AuditFilter{Since: since})
package csvio
