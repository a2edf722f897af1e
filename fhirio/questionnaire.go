package fhirio

import (
	"encoding/json"
	"fmt"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/outreach"
)

// Questionnaire returns flow f as a FHIR Questionnaire at canonical URL
// url (status active), so that an EHR knows what the answers of
// [QuestionnaireResponse] mean: one item per ask step, in step order,
// with linkId the step id, text the question (templates as written), and
// type choice (answerOption the choices, coded as choice answers are),
// integer, decimal or string. Which questions a patient is asked depends
// on earlier answers; the Questionnaire does not express those branches
// (enableWhen), so every item is optional.
func Questionnaire(f *outreach.Flow, url string) fhir.Questionnaire {
	q := fhir.Questionnaire{
		Id:     ptr(f.ID),
		Url:    ptr(url),
		Name:   ptr(computableName(f.ID)),
		Status: fhir.PublicationStatusActive,
	}
	if f.Name != "" {
		q.Title = ptr(f.Name)
	}
	if f.Description != "" {
		q.Description = ptr(f.Description)
	}
	for i := range f.Steps {
		st := &f.Steps[i]
		if st.Kind != outreach.StepAsk {
			continue
		}
		item := fhir.QuestionnaireItem{LinkId: st.ID, Text: ptr(st.Body), Required: ptr(false)}
		switch kindOf(st) {
		case outreach.AnswerChoice:
			item.Type = fhir.QuestionnaireItemTypeChoice
			for _, c := range st.Answer.Choices {
				item.AnswerOption = append(item.AnswerOption, fhir.QuestionnaireItemAnswerOption{ValueCoding: *choiceCoding(st, c.Value, url)})
			}
		case outreach.AnswerInteger:
			item.Type = fhir.QuestionnaireItemTypeInteger
		case outreach.AnswerNumber:
			item.Type = fhir.QuestionnaireItemTypeDecimal
		default:
			item.Type = fhir.QuestionnaireItemTypeString
		}
		q.Item = append(q.Item, item)
	}
	return q
}

// MarshalQuestionnaire returns q as JSON. Use it rather than
// json.Marshal: the model generates answerOption's value[x] as plain
// fields, so it writes all six of them (valueInteger 0, valueString "",
// ...) where FHIR allows one; this keeps the one that is set (a
// non-empty valueCoding, valueString or valueDate, else valueInteger).
func MarshalQuestionnaire(q fhir.Questionnaire) ([]byte, error) {
	data, err := q.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("fhirio: questionnaire: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("fhirio: questionnaire: %w", err)
	}
	fixItems(doc["item"])
	return json.Marshal(doc)
}

// fixItems keeps one value[x] in each answerOption of items, and of
// their nested items.
func fixItems(items any) {
	list, _ := items.([]any)
	for _, it := range list {
		item, _ := it.(map[string]any)
		opts, _ := item["answerOption"].([]any)
		for _, o := range opts {
			opt, _ := o.(map[string]any)
			keep := "valueInteger"
			for _, k := range []string{"valueCoding", "valueReference", "valueString", "valueDate", "valueTime"} {
				if v, ok := opt[k]; ok && !empty(v) {
					keep = k
					break
				}
			}
			for _, k := range []string{"valueInteger", "valueDate", "valueTime", "valueString", "valueCoding", "valueReference"} {
				if k != keep {
					delete(opt, k)
				}
			}
		}
		fixItems(item["item"])
	}
}

func empty(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	}
	return v == nil
}

// computableName makes a Questionnaire.name of a flow id: FHIR wants a
// name that starts with an upper-case letter and holds letters, digits
// and '_' only.
func computableName(id string) string {
	b := []byte{}
	upper := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
			upper = false
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_':
			upper = false
		default:
			upper = true
			continue
		}
		b = append(b, c)
	}
	if len(b) == 0 || b[0] < 'A' || b[0] > 'Z' {
		b = append([]byte("Flow"), b...)
	}
	return string(b)
}
