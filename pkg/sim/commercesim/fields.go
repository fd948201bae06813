package commercesim

import (
	"fmt"
	"strings"
)

// fieldSel is a parsed `fields` query parameter: name -> sub-selection
// (nil = the whole value), e.g. items[entity_id,increment_id],total_count.
type fieldSel map[string]fieldSel

// parseFields parses the sparse-response syntax.
func parseFields(s string) (fieldSel, error) {
	sel, rest, err := parseFieldList(s)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, fmt.Errorf("unexpected %q", rest)
	}
	return sel, nil
}

func parseFieldList(s string) (fieldSel, string, error) {
	sel := fieldSel{}
	for {
		i := strings.IndexAny(s, ",[]")
		name := s
		if i >= 0 {
			name = s[:i]
		}
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, s, fmt.Errorf("empty field name")
		}
		if i < 0 {
			sel[name] = nil
			return sel, "", nil
		}
		s = s[i:]
		switch s[0] {
		case '[':
			sub, rest, err := parseFieldList(s[1:])
			if err != nil {
				return nil, rest, err
			}
			if rest == "" || rest[0] != ']' {
				return nil, rest, fmt.Errorf("missing ]")
			}
			sel[name] = sub
			s = rest[1:]
		default:
			sel[name] = nil
		}
		if s == "" {
			return sel, "", nil
		}
		switch s[0] {
		case ',':
			s = s[1:]
		case ']':
			return sel, s, nil
		default:
			return nil, s, fmt.Errorf("unexpected %q", s)
		}
	}
}

// apply keeps only the selected keys; arrays are filtered element-wise.
func (sel fieldSel) apply(v any) any {
	if sel == nil {
		return v
	}
	switch x := v.(type) {
	case Object:
		out := Object{}
		for _, kv := range x {
			if sub, ok := sel[kv.Key]; ok {
				out = append(out, KV{kv.Key, sub.apply(kv.Value)})
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sel.apply(e)
		}
		return out
	}
	return v
}
