package rpc

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
)

// withEmptySlices returns a copy of v in which every nil slice reachable
// through exported struct fields, pointers, interfaces, arrays, slices and
// map values is an empty slice, so that encoding/json writes
// "Permission":[] rather than null, as ECS does. Handlers may therefore
// leave list fields nil. v itself is not modified (it may be shared): only
// the values on the way to a nil slice are copied, so that a large answer
// with none (an analysis's thousands of links) costs a walk, not a copy.
// Nil maps stay null and []byte is left alone; types with their own
// MarshalJSON/MarshalText are copied as they are.
func withEmptySlices(v any) any {
	if v == nil {
		return nil
	}
	out, changed := emptySlices(reflect.ValueOf(v), 0)
	if !changed {
		return v
	}
	return out.Interface()
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// maxDepth stops the walk on cyclic values; encoding/json then reports the
// cycle itself.
const maxDepth = 100

// emptySlices returns v with its nil slices made empty, and whether
// anything changed: when nothing did, it is v itself, not a copy.
func emptySlices(v reflect.Value, depth int) (reflect.Value, bool) {
	t := v.Type()
	if depth > maxDepth || !holdsSlice(t) {
		return v, false
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		e, changed := emptySlices(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		return p, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		e, changed := emptySlices(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(t).Elem()
		out.Set(e)
		return out, true
	case reflect.Struct:
		var out reflect.Value // made at the first change
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			f, changed := emptySlices(v.Field(i), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(t).Elem()
				out.Set(v) // copies unexported fields too
			}
			out.Field(i).Set(f)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return v, false // []byte is a base64 string in JSON
		}
		if v.IsNil() {
			return reflect.MakeSlice(t, 0, 0), true
		}
		if !holdsSlice(t.Elem()) {
			return v, false
		}
		var out reflect.Value
		for i := 0; i < v.Len(); i++ {
			e, changed := emptySlices(v.Index(i), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.MakeSlice(t, v.Len(), v.Len())
				reflect.Copy(out, v)
			}
			out.Index(i).Set(e)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	case reflect.Array:
		var out reflect.Value
		for i := 0; i < v.Len(); i++ {
			e, changed := emptySlices(v.Index(i), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(t).Elem()
				out.Set(v)
			}
			out.Index(i).Set(e)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	case reflect.Map:
		if v.IsNil() || !holdsSlice(t.Elem()) {
			return v, false
		}
		var out reflect.Value
		for it := v.MapRange(); it.Next(); {
			e, changed := emptySlices(it.Value(), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.MakeMapWithSize(t, v.Len())
				for c := v.MapRange(); c.Next(); {
					out.SetMapIndex(c.Key(), c.Value())
				}
			}
			out.SetMapIndex(it.Key(), e)
		}
		if !out.IsValid() {
			return v, false
		}
		return out, true
	}
	return v, false
}

// sliceTypes caches holdsSlice per type.
var sliceTypes sync.Map // reflect.Type → bool

// holdsSlice reports whether a value of type t can hold a slice the walk
// would change: those of other types are used as they are, not copied.
func holdsSlice(t reflect.Type) bool {
	if h, ok := sliceTypes.Load(t); ok {
		return h.(bool)
	}
	// A recursive type meets itself while it is decided: assume it holds
	// one until then (walking it is only slower, never wrong).
	sliceTypes.Store(t, true)
	h := decideHoldsSlice(t)
	sliceTypes.Store(t, h)
	return h
}

func decideHoldsSlice(t reflect.Type) bool {
	if leaf(t) || custom(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return true // decided by the dynamic value
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Uint8
	case reflect.Pointer, reflect.Array, reflect.Map:
		return holdsSlice(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() && holdsSlice(f.Type) {
				return true
			}
		}
		return false
	}
	return true
}

// leaf reports types that cannot hold a slice.
func leaf(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128,
		reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	}
	return false
}

// customTypes caches custom per type: the walk asks it of every value it
// visits, and reflect's Implements is slow enough to dominate the encoding
// of a large answer (an analysis's thousands of links).
var customTypes sync.Map // reflect.Type → bool

// custom reports types that encode themselves; their insides are not ours.
func custom(t reflect.Type) bool {
	if t.Kind() == reflect.Interface {
		return false // decided by the dynamic value
	}
	if c, ok := customTypes.Load(t); ok {
		return c.(bool)
	}
	c := implementsMarshaler(t)
	customTypes.Store(t, c)
	return c
}

func implementsMarshaler(t reflect.Type) bool {
	for _, m := range []reflect.Type{jsonMarshaler, textMarshaler} {
		if t.Implements(m) || reflect.PointerTo(t).Implements(m) {
			return true
		}
	}
	return false
}
