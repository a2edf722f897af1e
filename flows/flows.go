package flows

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/patient-outreach/sms/outreach"
)

//go:embed builtin/*.json
var builtinFS embed.FS

// ErrUnknownFlow matches every [*UnknownFlowError] with [errors.Is].
var ErrUnknownFlow = errors.New("flows: unknown built-in flow")

// UnknownFlowError reports a name that is not a built-in flow. It matches
// [ErrUnknownFlow] and [outreach.ErrNotFound] with [errors.Is].
type UnknownFlowError struct {
	// Name is the name asked for.
	Name string
	// Available lists the built-in flows' names.
	Available []string
}

func (e *UnknownFlowError) Error() string {
	return fmt.Sprintf("flows: no built-in flow %q: use one of %s", e.Name, strings.Join(e.Available, ", "))
}

// Is reports whether target is [ErrUnknownFlow] or [outreach.ErrNotFound].
func (e *UnknownFlowError) Is(target error) bool {
	return target == ErrUnknownFlow || target == outreach.ErrNotFound
}

// BuiltinNames returns the names of the built-in flows, sorted:
// "payor", "pharma" and "provider".
func BuiltinNames() []string {
	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Builtin returns the built-in flow with the given name (see
// [BuiltinNames]). Each call returns a fresh copy that the caller may
// change. An unknown name gives an [*UnknownFlowError].
func Builtin(name string) (*outreach.Flow, error) {
	file := path.Join("builtin", name+".json")
	data, err := builtinFS.ReadFile(file)
	if err != nil || !slices.Contains(BuiltinNames(), name) {
		return nil, &UnknownFlowError{Name: name, Available: BuiltinNames()}
	}
	return decode(bytes.NewReader(data), file)
}
