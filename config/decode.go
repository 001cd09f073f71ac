package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"hmi/points"
)

// The decoder walks goccy/go-yaml's syntax tree into the Config structs by
// their `yaml` tags, so that every key and value keeps its position, and
// reports every problem it meets rather than stopping at the first: unknown
// and duplicate keys, and values of the wrong type. It supports anchors,
// aliases and merge keys (<<).

// pos is a place in the file; line and col count from 1, 0 is unknown.
type pos struct{ line, col int }

func (p pos) before(q pos) bool { return p.line < q.line || p.line == q.line && p.col < q.col }

const (
	maxNodes = 1 << 20 // nodes decoded, aliases counted each time they are used
	maxDepth = 32      // nested merge keys and aliases
)

type decoder struct {
	file    string
	errs    Errors
	anchors map[string][]*ast.AnchorNode // by name, in file order
	vals    map[string]pos               // path ("links[0].tls.cert") of every value in the file, list items too -> its position
	bad     map[string]bool              // paths whose value did not decode
	via     map[string]via               // paths whose value comes through an alias or a merge key
	null    map[string]bool              // paths given without a value ("key:")
	budget  int
}

func newDecoder(file string) *decoder {
	return &decoder{
		file:    file,
		anchors: make(map[string][]*ast.AnchorNode),
		vals:    make(map[string]pos),
		bad:     make(map[string]bool),
		via:     make(map[string]via),
		null:    make(map[string]bool),
		budget:  maxNodes,
	}
}

func (d *decoder) errorf(p pos, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)})
}

// has reports whether the file gives path (null counts as given).
func (d *decoder) has(path string) bool { _, ok := d.vals[path]; return ok }

// at is the position of path's value or, for a key the file does not give,
// of the closest enclosing value that it gives.
func (d *decoder) at(path string) pos {
	for {
		if p, ok := d.vals[path]; ok {
			return p
		}
		if path == "" {
			return pos{}
		}
		path = parent(path)
	}
}

func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// label is the last element of path, as messages name it ("k", "addresses[1]").
func label(path string) string {
	if path == "" {
		return "configuration"
	}
	return path[strings.LastIndex(path, ".")+1:]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func tokenPos(tk *token.Token) pos {
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

// nodePos is where a node starts: a block mapping at its first key.
func nodePos(n ast.Node) pos {
	switch m := n.(type) {
	case nil:
		return pos{}
	case *ast.MappingNode:
		if !m.IsFlowStyle && len(m.Values) > 0 {
			return nodePos(m.Values[0].Key)
		}
		if m.Start != nil {
			return tokenPos(m.Start)
		}
	case *ast.MappingValueNode:
		return nodePos(m.Key)
	case *ast.SequenceNode:
		return tokenPos(m.Start)
	case *ast.AnchorNode:
		return tokenPos(m.Start)
	case *ast.AliasNode:
		return tokenPos(m.Start)
	case *ast.TagNode:
		return tokenPos(m.Start)
	}
	return tokenPos(n.GetToken())
}

// spend counts a node against the budget that bounds the work aliases and
// merge keys can ask for; false (reported once) when it is spent.
func (d *decoder) spend(n ast.Node) bool {
	d.budget--
	if d.budget == -1 {
		d.errorf(nodePos(n), "too many values (aliases and merge keys expand to more than %d)", maxNodes)
	}
	return d.budget >= 0
}

// collectAnchors records the anchors below n.
func (d *decoder) collectAnchors(n ast.Node, depth int) {
	if depth > 1000 {
		return
	}
	switch m := n.(type) {
	case *ast.AnchorNode:
		if m.Name != nil && m.Name.GetToken() != nil {
			name := m.Name.GetToken().Value
			d.anchors[name] = append(d.anchors[name], m)
		}
		d.collectAnchors(m.Value, depth+1)
	case *ast.TagNode:
		d.collectAnchors(m.Value, depth+1)
	case *ast.MappingNode:
		for _, v := range m.Values {
			d.collectAnchors(v, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(m.Key, depth+1)
		d.collectAnchors(m.Value, depth+1)
	case *ast.SequenceNode:
		for _, v := range m.Values {
			d.collectAnchors(v, depth+1)
		}
	}
}

// resolve follows anchors, aliases and tags to the node that holds the
// value; nil means null. str reports a !!str tag. ok is false after an
// error that resolve reported.
func (d *decoder) resolve(n ast.Node) (_ ast.Node, str, ok bool) {
	for range maxDepth {
		switch m := n.(type) {
		case *ast.AnchorNode:
			n = m.Value
		case *ast.TagNode:
			tag := ""
			if tk := m.GetToken(); tk != nil {
				tag = tk.Value
			}
			if !strings.HasPrefix(tag, "!!") {
				d.errorf(nodePos(m), "tag %q not supported (only the standard !! tags are)", tag)
				return nil, false, false
			}
			str = str || tag == "!!str"
			n = m.Value
		case *ast.AliasNode:
			name := ""
			if m.Value != nil && m.Value.GetToken() != nil {
				name = m.Value.GetToken().Value
			}
			var target *ast.AnchorNode
			for _, a := range d.anchors[name] {
				if nodePos(a).before(nodePos(m)) {
					target = a
				}
			}
			if target == nil {
				d.errorf(nodePos(m), "alias *%s names no anchor defined before it", name)
				return nil, false, false
			}
			n = target.Value
		case *ast.NullNode, *ast.CommentGroupNode, nil:
			return nil, false, true
		default:
			return n, str, true
		}
	}
	d.errorf(nodePos(n), "aliases nested too deep")
	return nil, false, false
}

// describe names a value for "want X, got Y" messages.
func describe(n ast.Node, str bool) string {
	if s, ok := scalarText(n); ok && str {
		return fmt.Sprintf("string %q", s)
	}
	switch m := n.(type) {
	case *ast.StringNode:
		return fmt.Sprintf("string %q", m.Value)
	case *ast.LiteralNode:
		return "a block string"
	case *ast.IntegerNode:
		return "integer " + m.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "number " + m.GetToken().Value
	case *ast.BoolNode:
		return "boolean " + m.GetToken().Value
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case nil:
		return "null"
	}
	return n.Type().String()
}

// scalarText is a scalar's text: a string's value, a number or boolean as written.
func scalarText(n ast.Node) (string, bool) {
	switch m := n.(type) {
	case *ast.StringNode:
		return m.Value, true
	case *ast.LiteralNode:
		if m.Value == nil {
			return "", true
		}
		return m.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return m.GetToken().Value, true
	}
	return "", false
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[Duration]()
	byteSizeType    = reflect.TypeFor[ByteSize]()
	kindType        = reflect.TypeFor[points.Kind]()
	plainInteger    = regexp.MustCompile(`^[-+]?[0-9]+$`)
)

// kindList lists the point kinds for messages.
func kindList() string {
	var names []string
	for k := points.Kind(1); k.Valid(); k++ {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}

// want describes what a Go type takes, for messages.
func want(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration such as 30s"
	case byteSizeType:
		return "a size such as 10MB"
	case kindType:
		return "a point kind (" + kindList() + ")"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return want(t.Elem())
	}
	return t.String()
}

// decode stores node n in v; path names v in positions and messages.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	if !d.spend(n) {
		return
	}
	raw := n
	if a, ok := raw.(*ast.AliasNode); ok {
		d.via[path] = via{nodePos(a), "alias"}
	}
	n, str, ok := d.resolve(n)
	if !ok {
		d.bad[path] = true
		return
	}
	if n == nil {
		// null: the zero value, but a section given empty ("clock_sync:")
		// is there, with its defaults.
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return
	}
	fail := func(format string, args ...any) {
		d.bad[path] = true
		d.errorf(nodePos(raw), "%s: "+format, append([]any{label(path)}, args...)...)
	}
	typeError := func() { fail("want %s, got %s", want(v.Type()), describe(n, str)) }

	t := v.Type()
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		s, ok := scalarText(n)
		if !ok {
			typeError()
			return
		}
		if t == kindType {
			k, err := points.ParseKind(s)
			if err != nil {
				fail("unknown kind %q (want %s)", s, kindList())
			}
			v.Set(reflect.ValueOf(k))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			fail("%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			typeError()
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok || str {
			typeError()
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		if str {
			typeError()
			return
		}
		switch m := n.(type) {
		case *ast.IntegerNode:
			switch x := m.Value.(type) {
			case int64:
				v.SetInt(x)
			case uint64:
				if x > math.MaxInt64 {
					fail("integer %s out of range", m.GetToken().Value)
					return
				}
				v.SetInt(int64(x))
			default:
				typeError()
			}
		case *ast.StringNode:
			if m.GetToken().Type == token.StringType && plainInteger.MatchString(m.Value) {
				fail("integer %s out of range", m.Value)
				return
			}
			typeError()
		default:
			typeError()
		}
	case reflect.Float64:
		if str {
			typeError()
			return
		}
		switch m := n.(type) {
		case *ast.IntegerNode:
			switch x := m.Value.(type) {
			case int64:
				v.SetFloat(float64(x))
			case uint64:
				v.SetFloat(float64(x))
			}
		case *ast.FloatNode:
			v.SetFloat(m.Value)
		case *ast.StringNode:
			// goccy leaves some plain numbers as strings (1e3).
			f, err := strconv.ParseFloat(m.Value, 64)
			if m.GetToken().Type != token.StringType || err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				typeError()
				return
			}
			v.SetFloat(f)
		case *ast.InfinityNode, *ast.NanNode:
			fail("want a finite number, got %s", describe(n, false))
		default:
			typeError()
		}
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			typeError()
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			p := index(path, i)
			d.vals[p] = nodePos(e)
			if isNull(e) {
				at := nodePos(e)
				if i < len(seq.Entries) && seq.Entries[i] != nil && seq.Entries[i].Start != nil {
					at = tokenPos(seq.Entries[i].Start) // the "-"
				}
				d.vals[p] = at
				d.bad[p] = true
				d.errorf(at, "%s: want %s, got null", label(p), want(t.Elem()))
			} else {
				d.decode(e, s.Index(i), p)
			}
			if el := s.Index(i); el.Kind() == reflect.Pointer && el.IsNil() {
				el.Set(reflect.New(t.Elem().Elem()))
			}
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		if mv, ok := n.(*ast.MappingValueNode); ok {
			n = &ast.MappingNode{BaseNode: &ast.BaseNode{}, Values: []*ast.MappingValueNode{mv}}
		}
		m, ok := n.(*ast.MappingNode)
		if !ok {
			typeError()
			return
		}
		d.decodeStruct(m, v, path)
	default:
		panic("config: cannot decode into " + t.String())
	}
}

// entry is one key: value of a mapping.
type entry struct {
	key  string
	kpos pos
	val  ast.Node
	via  via // the merge key that brought it, if one did
}

// via is the alias or merge key ("<<") a value comes through.
type via struct {
	at   pos
	what string // "alias" or "merge key"
}

// gather returns the entries of m: its own, each key once (a repeated key is
// reported), then those merged in with <<, earlier sources first.
func (d *decoder) gather(m *ast.MappingNode, depth int) (own, merged []entry) {
	if depth > maxDepth {
		d.errorf(nodePos(m), "merge keys nested too deep")
		return nil, nil
	}
	seen := make(map[string]pos)
	for _, mv := range m.Values {
		if !d.spend(mv) {
			return own, merged
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			for _, e := range d.merge(mv.Value, depth) {
				if e.via.what == "" {
					e.via = via{nodePos(mv.Key), "merge key"}
				}
				merged = append(merged, e)
			}
			continue
		}
		kn, _, _ := d.resolve(mv.Key)
		kp := nodePos(mv.Key)
		k, ok := scalarText(kn)
		if !ok {
			d.errorf(kp, "key: want a string, got %s", describe(kn, false))
			continue
		}
		if first, dup := seen[k]; dup {
			d.errorf(kp, "duplicate key %q (first at line %d)", k, first.line)
			continue
		}
		seen[k] = kp
		own = append(own, entry{key: k, kpos: kp, val: mv.Value})
	}
	return own, merged
}

// merge returns the entries a merge key's value brings: one mapping, or a
// list of them.
func (d *decoder) merge(v ast.Node, depth int) []entry {
	n, _, _ := d.resolve(v)
	var sources []*ast.MappingNode
	switch m := n.(type) {
	case *ast.MappingNode:
		sources = append(sources, m)
	case *ast.SequenceNode:
		for _, e := range m.Values {
			en, _, _ := d.resolve(e)
			mm, ok := en.(*ast.MappingNode)
			if !ok {
				d.errorf(nodePos(e), "<<: want a mapping, got %s", describe(en, false))
				continue
			}
			sources = append(sources, mm)
		}
	default:
		d.errorf(nodePos(v), "<<: want a mapping or a list of mappings, got %s", describe(n, false))
	}
	// Each key once, the first source that gives it winning: the list stays
	// as short as the keys are few, however the sources nest.
	var out []entry
	for _, s := range sources {
		own, merged := d.gather(s, depth+1)
		for _, e := range append(own, merged...) {
			if !slices.ContainsFunc(out, func(o entry) bool { return o.key == e.key }) {
				out = append(out, e)
			}
		}
	}
	return out
}

// field is a struct field that the file can set.
type field struct {
	name  string
	index int
}

func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			fs = append(fs, field{name, i})
		}
	}
	return fs
}

func (d *decoder) decodeStruct(m *ast.MappingNode, v reflect.Value, path string) {
	fs := fieldsOf(v.Type())
	own, merged := d.gather(m, 0)
	given := make(map[string]bool)
	for _, e := range append(own, merged...) {
		if given[e.key] {
			continue // a merged key that the mapping or an earlier source gives
		}
		given[e.key] = true
		i := slices.IndexFunc(fs, func(f field) bool { return f.name == e.key })
		if i < 0 {
			hint, meant := suggest(e.key, v.Type())
			d.errorf(e.kpos, "unknown key %q%s", e.key, hint)
			if meant != "" && !given[meant] {
				// Do not report the key meant as missing too.
				d.bad[join(path, meant)] = true
			}
			continue
		}
		p := join(path, e.key)
		d.vals[p] = nodePos(e.val)
		if isNull(e.val) {
			d.vals[p] = e.kpos
			d.null[p] = true
		}
		if e.via.what != "" {
			d.via[p] = e.via
		}
		d.decode(e.val, v.Field(fs[i].index), p)
	}
}

// isNull reports a value left empty ("key:" with nothing after it), whose
// position is best given as the key's.
func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok || n == nil
}

// suggest tells what an unknown key was probably meant to be: a known key
// spelled alike (meant), a key of a section below, or else the list of
// known keys.
func suggest(key string, t reflect.Type) (hint, meant string) {
	fs := fieldsOf(t)
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(s))
	}
	k := norm(key)
	limit := 1
	switch {
	case len(k) > 8:
		limit = 3
	case len(k) > 3:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, f := range fs {
		if dist := levenshtein(k, norm(f.name)); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	if best == "" && len(k) >= 4 {
		for _, f := range fs {
			if strings.HasPrefix(norm(f.name), k) {
				best = f.name
				break
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best), best
	}
	for _, f := range fs {
		ft := t.Field(f.index).Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct || ft == durationType {
			continue
		}
		for _, sub := range fieldsOf(ft) {
			if sub.name == key {
				return fmt.Sprintf(" (%q belongs under %q)", key, f.name), ""
			}
		}
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return " (known keys: " + strings.Join(names, ", ") + ")", ""
}

// levenshtein is the edit distance between a and b, in bytes.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
