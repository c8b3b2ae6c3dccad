package producer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// The spool's on-disk format, version 1. Every file — a segment's data
// (NNNNNNNNNNNNNNNNNNNN.seg) and its acknowledgements (the same number,
// .ack) — is a 24-byte header and then records:
//
//	header: "TAPSPOOL" | version uint16 | kind 'D' or 'A' | 0 | segment uint64 | CRC-32C of the 20 bytes before it
//	record: payload length uint32 | CRC-32C of the payload uint32 | payload
//
// all big-endian. A data record's payload is the entry's sequence number
// (uint64), the time it was spooled (Unix nanoseconds, int64) and the
// entry as JSON; an acknowledgement's is the sequence number, a status byte
// (1 accepted, 2 given up) and the event ID or error code. CRC-32C
// (Castagnoli) is the checksum iSCSI, ext4 and SSE 4.2's CRC32 instruction
// use (Go: hash/crc32.Castagnoli).
const (
	// SpoolFormatVersion is the version of the format this package writes
	// and the only one it reads; a spool of another version is refused with
	// a message naming both.
	SpoolFormatVersion = 1

	spoolMagic = "TAPSPOOL"
	headerSize = 24
	frameSize  = 8
	// maxRecord bounds a record's payload: an entry is at most 256 KiB as
	// EventBridge counts it, plus its bus, trace header and JSON quoting.
	// A larger length field is corruption, not an entry.
	maxRecord = 2 << 20

	kindData = 'D'
	kindAck  = 'A'

	ackAccepted = 1
	ackGivenUp  = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeHeader(kind byte, seg uint64) []byte {
	b := make([]byte, headerSize)
	copy(b, spoolMagic)
	binary.BigEndian.PutUint16(b[8:], SpoolFormatVersion)
	b[10] = kind
	binary.BigEndian.PutUint64(b[12:], seg)
	binary.BigEndian.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	return b
}

// errHeader describes a header that cannot be read; errVersion one written
// by another version of the format.
var (
	errHeader  = errors.New("not a TAP spool file header")
	errVersion = errors.New("unsupported spool format version")
)

func decodeHeader(b []byte, kind byte, seg uint64) error {
	if len(b) < headerSize || string(b[:8]) != spoolMagic {
		return fmt.Errorf("%w (no %q magic)", errHeader, spoolMagic)
	}
	if crc32.Checksum(b[:20], castagnoli) != binary.BigEndian.Uint32(b[20:]) {
		return fmt.Errorf("%w (header checksum mismatch)", errHeader)
	}
	if v := binary.BigEndian.Uint16(b[8:]); v != SpoolFormatVersion {
		return fmt.Errorf("%w %d: this producer reads version %d; open the spool with the producer that wrote it, or drain it first", errVersion, v, SpoolFormatVersion)
	}
	if b[10] != kind {
		return fmt.Errorf("%w (kind %q, want %q)", errHeader, b[10], kind)
	}
	if got := binary.BigEndian.Uint64(b[12:]); got != seg {
		return fmt.Errorf("%w (segment %d in the header of segment %d's file)", errHeader, got, seg)
	}
	return nil
}

func appendFrame(dst, payload []byte) []byte {
	var f [frameSize]byte
	binary.BigEndian.PutUint32(f[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(f[4:], crc32.Checksum(payload, castagnoli))
	return append(append(dst, f[:]...), payload...)
}

// wireEntry is an entry as a data record stores it.
type wireEntry struct {
	Source       *string    `json:"source,omitempty"`
	DetailType   *string    `json:"detailType,omitempty"`
	Detail       *string    `json:"detail,omitempty"`
	EventBusName *string    `json:"eventBusName,omitempty"`
	Resources    []string   `json:"resources,omitempty"`
	Time         *time.Time `json:"time,omitempty"`
	TraceHeader  *string    `json:"traceHeader,omitempty"`
}

func encodeData(seq uint64, at time.Time, e types.PutEventsRequestEntry) ([]byte, error) {
	js, err := json.Marshal(wireEntry{Source: e.Source, DetailType: e.DetailType, Detail: e.Detail,
		EventBusName: e.EventBusName, Resources: e.Resources, Time: e.Time, TraceHeader: e.TraceHeader})
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16, 16+len(js))
	binary.BigEndian.PutUint64(b, seq)
	binary.BigEndian.PutUint64(b[8:], uint64(at.UnixNano()))
	return append(b, js...), nil
}

func decodeData(p []byte) (seq uint64, at time.Time, e types.PutEventsRequestEntry, err error) {
	if len(p) < 16 {
		return 0, at, e, fmt.Errorf("data record of %d bytes, want at least 16", len(p))
	}
	var w wireEntry
	dec := json.NewDecoder(bytes.NewReader(p[16:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return 0, at, e, fmt.Errorf("data record's entry: %v", err)
	}
	e = types.PutEventsRequestEntry{Source: w.Source, DetailType: w.DetailType, Detail: w.Detail,
		EventBusName: w.EventBusName, Resources: w.Resources, Time: w.Time, TraceHeader: w.TraceHeader}
	return binary.BigEndian.Uint64(p), time.Unix(0, int64(binary.BigEndian.Uint64(p[8:]))), e, nil
}

func encodeAck(seq uint64, status byte, text string) []byte {
	b := make([]byte, 9, 9+len(text))
	binary.BigEndian.PutUint64(b, seq)
	b[8] = status
	return append(b, text...)
}

func decodeAck(p []byte) (seq uint64, status byte, err error) {
	if len(p) < 9 || (p[8] != ackAccepted && p[8] != ackGivenUp) {
		return 0, 0, fmt.Errorf("acknowledgement record of %d bytes with status %v, want 9 or more bytes and status 1 or 2", len(p), p[min(8, len(p)):min(9, len(p))])
	}
	return binary.BigEndian.Uint64(p), p[8], nil
}

// scanned is what reading one spool file found.
type scanned struct {
	payloads [][]byte
	offsets  []int64 // where each payload's record begins
	// end is the offset after the last good record; torn, if not nil, is
	// what lies after it: a record the producer was writing when it
	// stopped.
	end  int64
	torn *TornTail
}

// scanRecords reads the records of a file's contents b (header already
// checked). A damaged record with no good record anywhere after it is a
// torn tail when tornOK — the file is one the producer may have been
// writing to when it stopped — and corruption otherwise. A damaged record
// with a good one after it is always corruption: the spool refuses to open
// rather than drop a complete record.
func scanRecords(path string, b []byte, tornOK bool) (scanned, error) {
	var s scanned
	off := int64(headerSize)
	size := int64(len(b))
	damaged := func(reason string) (scanned, error) {
		if tornOK && !frameAfter(b, off+1) {
			s.end = off
			s.torn = &TornTail{File: path, Offset: off, Bytes: size - off, Reason: reason}
			return s, nil
		}
		return s, &CorruptError{File: path, Offset: off, Following: size - off, Reason: reason}
	}
	for off < size {
		if size-off < frameSize {
			return damaged(fmt.Sprintf("%d bytes, less than a record's 8-byte frame", size-off))
		}
		n := int64(binary.BigEndian.Uint32(b[off:]))
		switch {
		case n == 0 && allZero(b[off:]):
			// A file extended by a crash before its data reached the disk
			// reads as zeros up to its end.
			return damaged("zeros to the end of the file")
		case n == 0 || n > maxRecord:
			return damaged(fmt.Sprintf("record length %d out of range 1..%d", n, maxRecord))
		case off+frameSize+n > size:
			return damaged(fmt.Sprintf("record of %d bytes cut short at %d", n, size-off-frameSize))
		}
		payload := b[off+frameSize : off+frameSize+n]
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[off+4:]) {
			return damaged("CRC-32C mismatch")
		}
		s.payloads = append(s.payloads, payload)
		s.offsets = append(s.offsets, off)
		off += frameSize + n
	}
	s.end = off
	return s, nil
}

// frameAfter reports whether a good record (a length in range that fits,
// and a matching CRC) starts anywhere at or after from: what tells
// corruption in the middle of a file from a torn tail.
func frameAfter(b []byte, from int64) bool {
	size := int64(len(b))
	for off := from; off+frameSize < size; off++ {
		n := int64(binary.BigEndian.Uint32(b[off:]))
		if n == 0 || n > maxRecord || off+frameSize+n > size {
			continue
		}
		if crc32.Checksum(b[off+frameSize:off+frameSize+n], castagnoli) == binary.BigEndian.Uint32(b[off+4:]) {
			return true
		}
	}
	return false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TornTail is a damaged final record found and cut off when a spool was
// opened: the record being written when the producer stopped (a crash, a
// full disk), so the Send that wrote it never returned — or, in an
// acknowledgement file, an acknowledgement whose entries are therefore sent
// again.
type TornTail struct {
	// File is the file's path; Offset where the record began; Bytes how
	// many bytes were cut off.
	File          string
	Offset, Bytes int64
	// Reason says what was wrong with it.
	Reason string
}

// String describes the repair for a log line.
func (t TornTail) String() string {
	return fmt.Sprintf("%s: torn final record at offset %d (%s): cut off %d bytes written when the producer stopped", t.File, t.Offset, t.Reason, t.Bytes)
}

// CorruptError is a damaged record with complete records, or anything,
// after it, or an unreadable header: not what a crash leaves, so the spool
// refuses to open rather than drop records it cannot read.
type CorruptError struct {
	// File is the file's path; Offset where the damaged record or header
	// begins; Following how many bytes lie from there to the end.
	File              string
	Offset, Following int64
	Reason            string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool file %s is corrupt at offset %d (%s; %d bytes from there to its end): refusing to open the spool rather than drop records; "+
		"move the file out of the spool directory to go on without it (its entries may not all have been accepted), or restore it",
		e.File, e.Offset, e.Reason, e.Following)
}
