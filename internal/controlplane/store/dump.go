package store

// Dump is a whole store at one revision: what "palisade db migrate" copies
// from one backend to another, keeping every record's ID and revision, the
// change log and the ClientTokens, so that agents and clients that knew
// the old store resume against the new one.
type Dump struct {
	Revision int64
	Records  []Record // with their Revision; Object unset
	Tokens   []Token
	Changes  []Change // the change log, by revision, in each revision's order
}
