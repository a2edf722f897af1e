package fhirio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/outreach"
)

// Questionnaire returns flow f as a FHIR Questionnaire at canonical URL
// url (status active), so that an EHR knows what the answers of
// [QuestionnaireResponse] mean: one item per ask step, in step order,
// with linkId the step id, text the question (templates as written), and
// type choice (answerOption the choices, coded as choice answers are),
// integer, decimal or string. Every item is optional. Where the flow
// asks a question only after certain answers to an earlier one, and
// that can be said in FHIR, the item has enableWhen (see [enableWhen]).
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
		item.EnableWhen, item.EnableBehavior = enableWhen(f, st.ID, map[string]bool{})
		q.Item = append(q.Item, item)
	}
	return q
}

// enableWhen returns the conditions under which the flow asks step id,
// when they can be said in FHIR: every way into it is a route of one
// step P (an ask step routing on its own answer, or a branch on
// answers.Q) whose conditions hold for the answers that lead there: the
// routes to id are equal-to or any-of routes (values an earlier route
// of P to another step claims are left out, since the first route that
// matches wins), or the first route of P is a range (Min, Max). Anything
// else (a default Next into id, several steps leading there, a range
// after other routes, a question that is itself asked only sometimes,
// which the engine could not route on when skipped) gives none. seen
// holds the steps being looked at, against loops.
func enableWhen(f *outreach.Flow, id string, seen map[string]bool) ([]fhir.QuestionnaireItemEnableWhen, *fhir.EnableWhenBehavior) {
	if seen[id] {
		return nil, nil
	}
	seen[id] = true
	var from *outreach.Step
	for i := range f.Steps {
		st := &f.Steps[i]
		for _, n := range []string{st.Next, st.NoAnswer, st.OnTimeout, st.OnFailure} {
			if n == id {
				return nil, nil // reached other than by a route
			}
		}
		for _, rt := range st.Routes {
			if rt.Next == id {
				if from != nil && from != st {
					return nil, nil
				}
				from = st
			}
		}
	}
	if from == nil || f.StartStep() == id {
		return nil, nil
	}
	question := from.ID
	if from.Kind == outreach.StepBranch {
		q, ok := strings.CutPrefix(from.Var, "answers.")
		if !ok {
			return nil, nil
		}
		question = q
	}
	asked := f.StepByID(question)
	if asked == nil || asked.Kind != outreach.StepAsk || seen[question] {
		return nil, nil
	}
	if cond, _ := enableWhen(f, question, seen); cond != nil {
		return nil, nil
	}
	op := func(o fhir.QuestionnaireItemOperator, v string) fhir.QuestionnaireItemEnableWhen {
		ew := fhir.QuestionnaireItemEnableWhen{Question: question, Operator: o}
		switch kindOf(asked) {
		case outreach.AnswerChoice:
			ew.AnswerCoding = fhir.Coding{Code: ptr(v)}
		case outreach.AnswerInteger:
			ew.AnswerInteger, _ = strconv.Atoi(v)
		case outreach.AnswerNumber:
			ew.AnswerDecimal = json.Number(v)
		default:
			ew.AnswerString = v
		}
		return ew
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	if first := from.Routes[0]; first.Next == id && (first.When.Min != nil || first.When.Max != nil) {
		if first.When.Equals != "" || len(first.When.AnyOf) > 0 {
			return nil, nil
		}
		if kindOf(asked) == outreach.AnswerInteger && (!whole(first.When.Min) || !whole(first.When.Max)) {
			return nil, nil
		}
		var out []fhir.QuestionnaireItemEnableWhen
		if first.When.Min != nil {
			out = append(out, op(fhir.QuestionnaireItemOperatorGreaterOrEquals, num(*first.When.Min)))
		}
		if first.When.Max != nil {
			out = append(out, op(fhir.QuestionnaireItemOperatorLessOrEquals, num(*first.When.Max)))
		}
		all := fhir.EnableWhenBehaviorAll
		return out, &all
	}
	claimed := map[string]bool{}
	var values []string
	for _, rt := range from.Routes {
		if rt.When.Min != nil || rt.When.Max != nil {
			if rt.Next == id {
				return nil, nil // a range after other routes
			}
			continue
		}
		vals := rt.When.AnyOf
		if rt.When.Equals != "" {
			vals = append([]string{rt.When.Equals}, vals...)
		}
		for _, v := range vals {
			if !claimed[v] && rt.Next == id {
				values = append(values, v)
			}
			claimed[v] = true
		}
	}
	if len(values) == 0 {
		return nil, nil
	}
	var out []fhir.QuestionnaireItemEnableWhen
	for _, v := range values {
		out = append(out, op(fhir.QuestionnaireItemOperatorEquals, v))
	}
	anyOf := fhir.EnableWhenBehaviorAny
	return out, &anyOf
}

func whole(x *float64) bool { return x == nil || *x == float64(int64(*x)) }

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
	types := map[string]string{}
	itemTypes(doc["item"], types)
	fixItems(doc["item"], types)
	return marshalPlain(doc)
}

// marshalPlain is json.Marshal without HTML escaping: an operator ">="
// stays ">=" (the model reads "\u003e=" as an unknown code).
func marshalPlain(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// itemTypes maps each item's linkId to its type.
func itemTypes(items any, types map[string]string) {
	list, _ := items.([]any)
	for _, it := range list {
		item, _ := it.(map[string]any)
		id, _ := item["linkId"].(string)
		t, _ := item["type"].(string)
		types[id] = t
		itemTypes(item["item"], types)
	}
}

// answerKey is the enableWhen answer[x] for a question of type t.
var answerKey = map[string]string{"choice": "answerCoding", "integer": "answerInteger", "decimal": "answerDecimal", "string": "answerString", "text": "answerString"}

// fixItems keeps one value[x] in each answerOption of items, and one
// answer[x] in each enableWhen (by the type of the question it names),
// and so in their nested items.
func fixItems(items any, types map[string]string) {
	list, _ := items.([]any)
	for _, it := range list {
		item, _ := it.(map[string]any)
		conds, _ := item["enableWhen"].([]any)
		for _, c := range conds {
			ew, _ := c.(map[string]any)
			q, _ := ew["question"].(string)
			keep := answerKey[types[q]]
			for k := range ew {
				if strings.HasPrefix(k, "answer") && k != keep {
					delete(ew, k)
				}
			}
		}
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
		fixItems(item["item"], types)
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
