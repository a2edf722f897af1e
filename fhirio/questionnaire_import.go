package fhirio

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/patient-outreach/sms/outreach"
)

// ErrQuestionnaire is matched by every error of [FlowFromQuestionnaire].
var ErrQuestionnaire = errors.New("fhirio: the Questionnaire cannot be a flow")

// FlowFromQuestionnaire imports a simple Questionnaire as a flow: its
// items in order (groups read as their items), display items as send
// steps and questions as ask steps with the item's linkId as step id
// (characters other than letters, digits, '_' and '-' become '_'), text
// as the question and type as the answer kind: choice (answerOption
// valueCoding codes or valueStrings as the choices), integer, decimal,
// string or text. enableWhen on an earlier question's answer, with the
// operators =, !=, >, <, >= and <= (> and < on integers only) and
// enableBehavior any or all, becomes branch steps that skip the item
// when it does not hold. The flow ends, after the last item, with the
// outcome "completed". Anything else (other item types, answerValueSet,
// exists) is an error matching [ErrQuestionnaire] that names the item.
func FlowFromQuestionnaire(data []byte) (*outreach.Flow, error) {
	var q fhir.Questionnaire
	if err := json.Unmarshal(data, &q); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQuestionnaire, jsonProblem(err))
	}
	// The model cannot tell which answer[x] of an enableWhen is present:
	// read them from the document.
	var raw struct {
		Item []rawItem `json:"item"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQuestionnaire, jsonProblem(err))
	}
	im := &qimporter{kinds: map[string]outreach.AnswerKind{}, ids: map[string]string{}}
	if err := im.items(q.Item, raw.Item, "Questionnaire.item"); err != nil {
		return nil, err
	}
	f := &outreach.Flow{ID: flowID(deref(q.Name), deref(q.Id)), Name: deref(q.Title), Description: deref(q.Description)}
	const end = "end"
	for i, it := range im.list {
		next := end
		if i+1 < len(im.list) {
			next = im.list[i+1].firstID()
		}
		f.Steps = append(f.Steps, it.steps(next)...)
	}
	f.Steps = append(f.Steps, outreach.Step{ID: end, Kind: outreach.StepEnd, Outcome: "completed"})
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrQuestionnaire, err)
	}
	return f, nil
}

// rawItem is what the model cannot hold of an item: its enableWhen
// answers as written.
type rawItem struct {
	EnableWhen []map[string]json.RawMessage `json:"enableWhen"`
	Item       []rawItem                    `json:"item"`
}

type qimporter struct {
	list  []*qitem
	kinds map[string]outreach.AnswerKind // by step id
	ids   map[string]string              // linkId -> step id
}

// qitem is one item read: its step, and the conditions that enable it.
type qitem struct {
	step  outreach.Step
	conds []qcond
	any   bool // enableBehavior any
}

// qcond is one enableWhen: a route condition on an earlier step's answer
// (negate: the item is enabled when the condition does not hold).
type qcond struct {
	on     string
	when   outreach.Condition
	negate bool
}

func (it *qitem) firstID() string {
	if len(it.conds) > 0 {
		return it.step.ID + "__when"
	}
	return it.step.ID
}

// steps returns the item's steps: its branches, then the item going on
// to next.
func (it *qitem) steps(next string) []outreach.Step {
	st := it.step
	st.Next = next
	if len(it.conds) == 0 {
		return []outreach.Step{st}
	}
	var out []outreach.Step
	for i, c := range it.conds {
		id := it.step.ID + "__when"
		if i > 0 {
			id += strconv.Itoa(i + 1)
		}
		then, otherwise := it.step.ID, next // any: the first that holds enables it
		if !it.any && i+1 < len(it.conds) {
			then = it.step.ID + "__when" + strconv.Itoa(i+2) // all: the next must hold too
		}
		if it.any && i+1 < len(it.conds) {
			otherwise = it.step.ID + "__when" + strconv.Itoa(i+2)
		}
		if c.negate {
			then, otherwise = otherwise, then
		}
		out = append(out, outreach.Step{ID: id, Kind: outreach.StepBranch, Var: "answers." + c.on,
			Routes: []outreach.Route{{When: c.when, Next: then}}, Next: otherwise})
	}
	return append(out, st)
}

func (im *qimporter) items(items []fhir.QuestionnaireItem, raw []rawItem, path string) error {
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		var r rawItem
		if i < len(raw) {
			r = raw[i]
		}
		if item.Type == fhir.QuestionnaireItemTypeGroup {
			if err := im.items(item.Item, r.Item, p+".item"); err != nil {
				return err
			}
			continue
		}
		if len(item.Item) > 0 {
			return fmt.Errorf("%w: %s: items under a question are not supported", ErrQuestionnaire, p)
		}
		id := stepID(item.LinkId)
		if id == "" || im.kinds[id] != "" || im.ids[item.LinkId] != "" {
			return fmt.Errorf("%w: %s: linkId %q is empty or repeats another", ErrQuestionnaire, p, item.LinkId)
		}
		it := &qitem{step: outreach.Step{ID: id, Body: deref(item.Text)}}
		if item.EnableBehavior != nil && *item.EnableBehavior == fhir.EnableWhenBehaviorAny {
			it.any = true
		}
		kind, err := im.kind(&item, &it.step, p)
		if err != nil {
			return err
		}
		for j, ew := range item.EnableWhen {
			c, err := im.cond(ew, r.EnableWhen, j, fmt.Sprintf("%s.enableWhen[%d]", p, j))
			if err != nil {
				return err
			}
			it.conds = append(it.conds, c)
		}
		im.kinds[id] = kind
		im.ids[item.LinkId] = id
		im.list = append(im.list, it)
	}
	return nil
}

// kind sets st's kind and answer from the item's type.
func (im *qimporter) kind(item *fhir.QuestionnaireItem, st *outreach.Step, p string) (outreach.AnswerKind, error) {
	st.Kind = outreach.StepAsk
	var kind outreach.AnswerKind
	switch item.Type {
	case fhir.QuestionnaireItemTypeDisplay:
		st.Kind = outreach.StepSend
		return "display", nil
	case fhir.QuestionnaireItemTypeChoice:
		kind = outreach.AnswerChoice
		if item.AnswerValueSet != nil {
			return "", fmt.Errorf("%w: %s: answerValueSet is not supported: list the answers as answerOption", ErrQuestionnaire, p)
		}
		spec := &outreach.AnswerSpec{Kind: kind}
		for _, o := range item.AnswerOption {
			v := deref(o.ValueCoding.Code)
			if v == "" {
				v = o.ValueString
			}
			if v == "" {
				return "", fmt.Errorf("%w: %s.answerOption: only coded or string options are supported", ErrQuestionnaire, p)
			}
			spec.Choices = append(spec.Choices, outreach.Choice{Value: v})
		}
		st.Answer = spec
		return kind, nil
	case fhir.QuestionnaireItemTypeInteger:
		kind = outreach.AnswerInteger
	case fhir.QuestionnaireItemTypeDecimal:
		kind = outreach.AnswerNumber
	case fhir.QuestionnaireItemTypeString, fhir.QuestionnaireItemTypeText:
		kind = outreach.AnswerText
	default:
		return "", fmt.Errorf("%w: %s: items of type %s are not supported", ErrQuestionnaire, p, item.Type.Code())
	}
	st.Answer = &outreach.AnswerSpec{Kind: kind}
	return kind, nil
}

// cond reads one enableWhen; raw are the item's enableWhen as written.
func (im *qimporter) cond(ew fhir.QuestionnaireItemEnableWhen, raw []map[string]json.RawMessage, j int, p string) (qcond, error) {
	on := im.ids[ew.Question]
	if on == "" || im.kinds[on] == "display" {
		return qcond{}, fmt.Errorf("%w: %s: question %q is not an earlier question", ErrQuestionnaire, p, ew.Question)
	}
	var value string
	isInt := false
	if j < len(raw) {
		for k, v := range raw[j] {
			switch k {
			case "answerCoding":
				var c fhir.Coding
				if json.Unmarshal(v, &c) == nil {
					value = deref(c.Code)
				}
			case "answerString":
				_ = json.Unmarshal(v, &value)
			case "answerInteger":
				var n int
				if json.Unmarshal(v, &n) == nil {
					value, isInt = strconv.Itoa(n), true
				}
			case "answerDecimal":
				var n json.Number
				if json.Unmarshal(v, &n) == nil {
					value = n.String()
				}
			case "answerBoolean", "answerDate", "answerDateTime", "answerTime", "answerQuantity", "answerReference":
				return qcond{}, fmt.Errorf("%w: %s: %s is not supported", ErrQuestionnaire, p, k)
			}
		}
	}
	if value == "" {
		return qcond{}, fmt.Errorf("%w: %s: the answer compared is missing", ErrQuestionnaire, p)
	}
	num := func() (float64, error) {
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %s compares numbers", ErrQuestionnaire, p, ew.Operator.Code())
		}
		return n, nil
	}
	c := qcond{on: on}
	switch op := ew.Operator.Code(); op {
	case "=":
		c.when.Equals = value
	case "!=":
		c.when.Equals, c.negate = value, true
	case ">=", "<=", ">", "<":
		n, err := num()
		if err != nil {
			return c, err
		}
		if (op == ">" || op == "<") && !isInt {
			return c, fmt.Errorf("%w: %s: %s is supported on integers only", ErrQuestionnaire, p, op)
		}
		switch op {
		case ">":
			n++
		case "<":
			n--
		}
		if op[0] == '>' {
			c.when.Min = &n
		} else {
			c.when.Max = &n
		}
	default:
		return c, fmt.Errorf("%w: %s: operator %s is not supported", ErrQuestionnaire, p, op)
	}
	return c, nil
}

// stepID makes a step id of a linkId.
func stepID(linkID string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, strings.TrimSpace(linkID))
}

// flowID makes a flow id of the Questionnaire's name, else its id.
func flowID(name, id string) string {
	if s := stepID(name); s != "" {
		return s
	}
	if s := stepID(id); s != "" {
		return s
	}
	return "questionnaire"
}
