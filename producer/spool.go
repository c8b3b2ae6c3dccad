package producer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// The spool is a directory of segments. Each segment is a data file of
// entries, appended to and fsync'd before Send returns, and an
// acknowledgement file, appended to (and fsync'd) once EventBridge has
// accepted an entry or the producer has given it up. A segment whose every
// entry is acknowledged, and which is no longer written to, is deleted: the
// data file first, so a crash in between leaves an orphan acknowledgement
// file (removed at the next open), never entries without their
// acknowledgements. A LOCK file, flock(2)ed, keeps a second producer out.

// ErrSpoolFull is returned (wrapped in a *SpoolFullError) by a Send that
// would take the spool past its bound. Nothing of that Send was written.
var ErrSpoolFull = errors.New("spool full")

// ErrSpoolNotWritable is returned (wrapped) by Open when the spool
// directory cannot be created or written.
var ErrSpoolNotWritable = errors.New("spool directory not writable")

// ErrSpoolInUse is returned (wrapped) by Open when another producer holds
// the spool directory.
var ErrSpoolInUse = errors.New("spool directory in use by another producer")

var errLocked = errors.New("locked")

// errSpoolBroken marks the errors after which a spool takes nothing more:
// a write that could not be undone or made durable.
var errSpoolBroken = errors.New("the spool takes nothing more; restart the producer to resume from what is on disk")

// SpoolFullError says which spool is full and what to change.
type SpoolFullError struct {
	// Dir is the spool directory; Used its bytes on disk; Max the bound
	// (Config.SpoolMaxBytes); Need the bytes the refused Send needed.
	Dir             string
	Used, Max, Need int64
}

func (e *SpoolFullError) Error() string {
	return fmt.Sprintf("spool %s is full: %s used of its %s bound, and this Send needs %s more; nothing of it was written. "+
		"Wait until EventBridge has accepted what is spooled, or raise the bound (Config.SpoolMaxBytes)",
		e.Dir, sizeText(e.Used), sizeText(e.Max), sizeText(e.Need))
}

// Unwrap makes errors.Is(err, ErrSpoolFull) true.
func (e *SpoolFullError) Unwrap() error { return ErrSpoolFull }

func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Recovery is what opening a spool found.
type Recovery struct {
	// Dir is the spool directory.
	Dir string
	// Resumed counts entries found unsent: they are sent first.
	Resumed int
	// Torn lists the torn final records cut off (each also reported by
	// its String): what a crash in the middle of a write leaves.
	Torn []TornTail
}

var segmentName = regexp.MustCompile(`^([0-9]{20})\.(seg|ack)$`)

// segment is one data file and its acknowledgement file.
type segment struct {
	num              uint64
	records, acked   int
	dataSize, ackLen int64
	ack              *os.File // open for appends once written to
}

// spooled is an unsent entry read back from a spool.
type spooled struct {
	seq, seg uint64
	at       time.Time
	entry    types.PutEventsRequestEntry
}

// spool is an open spool directory.
type spool struct {
	dir         string
	max, segMax int64
	lock        *os.File

	mu      sync.Mutex
	segs    map[uint64]*segment
	active  *segment
	data    *os.File // the active segment's data file
	nextSeq uint64
	bytes   int64
	// broken is set when a write could not be undone or made durable:
	// the spool then takes nothing more.
	broken error
}

func (s *spool) path(num uint64, ext string) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.%s", num, ext))
}

// openSpool opens (creating if needed) the spool in dir, bounded at max
// bytes with segments of about segMax, and returns its unsent entries in
// sequence order. On an error it leaves nothing behind it created.
func openSpool(dir string, max, segMax int64) (s *spool, pending []spooled, rec Recovery, err error) {
	rec.Dir = dir
	created, err := makeDir(dir)
	if err != nil {
		return nil, nil, rec, err
	}
	lockPath := filepath.Join(dir, "LOCK")
	_, statErr := os.Stat(lockPath)
	lockCreated := errors.Is(statErr, fs.ErrNotExist)
	defer func() {
		if err == nil {
			return
		}
		// Leave nothing behind that this call made.
		if s != nil && s.lock != nil {
			s.lock.Close()
			if lockCreated {
				_ = os.Remove(lockPath)
			}
		}
		for _, d := range created {
			_ = os.Remove(d)
		}
	}()
	if err := probe(dir); err != nil {
		return nil, nil, rec, err
	}
	s = &spool{dir: dir, max: max, segMax: segMax, segs: map[uint64]*segment{}, nextSeq: 1}
	if s.lock, err = takeLock(dir); err != nil {
		return s, nil, rec, err
	}

	names, err := os.ReadDir(dir)
	if err != nil {
		return s, nil, rec, fmt.Errorf("spool %s: %w", dir, err)
	}
	var nums []uint64
	acks := map[uint64]bool{}
	for _, d := range names {
		m := segmentName.FindStringSubmatch(d.Name())
		if m == nil {
			continue
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		if m[2] == "seg" {
			nums = append(nums, n)
		} else {
			acks[n] = true
		}
	}
	slices.Sort(nums)
	var last uint64
	if len(nums) > 0 {
		last = nums[len(nums)-1]
	}
	for _, n := range nums {
		// Only the newest segment was being written to; an older one was
		// complete and fsync'd before the next was started.
		p, sg, torn, err := s.readSegment(n, n == last)
		if err != nil {
			return s, nil, rec, err
		}
		rec.Torn = append(rec.Torn, torn...)
		delete(acks, n)
		if sg.records == sg.acked {
			if err := s.remove(sg); err != nil {
				return s, nil, rec, err
			}
			continue
		}
		s.segs[n] = sg
		s.bytes += sg.dataSize + sg.ackLen
		pending = append(pending, p...)
	}
	for n := range acks {
		// The data file was deleted and the crash came before its
		// acknowledgements were.
		if err := os.Remove(s.path(n, "ack")); err != nil {
			return s, nil, rec, fmt.Errorf("spool %s: remove orphan acknowledgements: %w", dir, err)
		}
	}
	if err := s.startSegment(last + 1); err != nil {
		return s, nil, rec, err
	}
	slices.SortFunc(pending, func(a, b spooled) int { return cmpUint(a.seq, b.seq) })
	rec.Resumed = len(pending)
	return s, pending, rec, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// makeDir creates dir if it is missing, and returns the directories it
// created, deepest first, for the caller to remove if opening fails.
func makeDir(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("%w: %s is a file, not a directory: give a directory path (it is created if missing)", ErrSpoolNotWritable, dir)
	case err == nil:
		return nil, nil
	}
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		for _, d := range missing {
			_ = os.Remove(d)
		}
		return nil, fmt.Errorf("%w: cannot create %s (%v): create it, or give a directory the producer's user may write to", ErrSpoolNotWritable, dir, unwrapPath(err))
	}
	return missing, nil
}

// probe checks that a file can be created, written and fsync'd in dir.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-*")
	if err == nil {
		_, err = f.Write([]byte{0})
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		_ = os.Remove(f.Name())
	}
	if err != nil {
		return fmt.Errorf("%w: %s (%v): give the producer's user write access to it (e.g. chmod u+w %s), or choose another directory",
			ErrSpoolNotWritable, dir, unwrapPath(err), dir)
	}
	return nil
}

// unwrapPath drops an *fs.PathError's operation and path, which the
// messages above already give.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// takeLock creates and locks dir/LOCK, and writes the process ID in it for
// the message of the next one to try.
func takeLock(dir string) (*os.File, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (%v)", ErrSpoolNotWritable, path, unwrapPath(err))
	}
	if err := lockFile(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s is held by process %s: give each producer its own spool directory", ErrSpoolInUse, path, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("spool %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// readSegment reads segment n's data and acknowledgements, cutting off a
// torn tail where one may be (the data of the newest segment; any
// acknowledgement file), and returns its unacknowledged entries.
func (s *spool) readSegment(n uint64, newest bool) ([]spooled, *segment, []TornTail, error) {
	sg := &segment{num: n}
	var torn []TornTail
	dataPath := s.path(n, "seg")
	data, tornData, err := readFile(dataPath, kindData, n, newest)
	if err != nil {
		return nil, nil, nil, err
	}
	if tornData != nil {
		torn = append(torn, *tornData)
	}
	sg.dataSize = data.end
	entries := map[uint64]spooled{}
	for i, p := range data.payloads {
		seq, at, e, err := decodeData(p)
		if err != nil {
			return nil, nil, nil, &CorruptError{File: dataPath, Offset: data.offsets[i], Following: sg.dataSize - data.offsets[i], Reason: err.Error()}
		}
		entries[seq] = spooled{seq: seq, seg: n, at: at, entry: e}
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	sg.records = len(entries)

	ackPath := s.path(n, "ack")
	if _, err := os.Stat(ackPath); err == nil {
		acks, tornAck, err := readFile(ackPath, kindAck, n, true)
		if err != nil {
			return nil, nil, nil, err
		}
		if tornAck != nil {
			torn = append(torn, *tornAck)
		}
		sg.ackLen = acks.end
		for i, p := range acks.payloads {
			seq, _, err := decodeAck(p)
			if err != nil {
				return nil, nil, nil, &CorruptError{File: ackPath, Offset: acks.offsets[i], Following: acks.end - acks.offsets[i], Reason: err.Error()}
			}
			if _, ok := entries[seq]; ok {
				delete(entries, seq)
				sg.acked++
			}
		}
	}
	var out []spooled
	for _, e := range entries {
		out = append(out, e)
	}
	return out, sg, torn, nil
}

// readFile reads a spool file, checks its header and records, and cuts off
// a torn tail when tornOK (reporting it); a file too short for its header
// is such a tail as a whole (the crash came as it was created) and is
// emptied to a bare header.
func readFile(path string, kind byte, seg uint64, tornOK bool) (scanned, *TornTail, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return scanned{}, nil, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if len(b) < headerSize {
		if !tornOK {
			return scanned{}, nil, &CorruptError{File: path, Following: int64(len(b)), Reason: fmt.Sprintf("%d bytes, shorter than the %d-byte header", len(b), headerSize)}
		}
		t := &TornTail{File: path, Bytes: int64(len(b)), Reason: "header cut short"}
		if err := rewrite(path, encodeHeader(kind, seg)); err != nil {
			return scanned{}, nil, err
		}
		return scanned{end: headerSize}, t, nil
	}
	if err := decodeHeader(b, kind, seg); errors.Is(err, errVersion) {
		return scanned{}, nil, fmt.Errorf("spool file %s: %w", path, err)
	} else if err != nil {
		return scanned{}, nil, &CorruptError{File: path, Following: int64(len(b)), Reason: err.Error()}
	}
	sc, err := scanRecords(path, b, tornOK)
	if err != nil {
		return scanned{}, nil, err
	}
	if sc.torn != nil {
		if err := truncate(path, sc.end); err != nil {
			return scanned{}, nil, err
		}
	}
	return sc, sc.torn, nil
}

func rewrite(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("spool: repair %s: %w", path, err)
	}
	return syncFile(path)
}

func truncate(path string, size int64) error {
	if err := os.Truncate(path, size); err != nil {
		return fmt.Errorf("spool: cut the torn tail of %s: %w", path, err)
	}
	return syncFile(path)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes the directory's entries (files created or removed)
// durable.
func (s *spool) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("spool %s: fsync the directory: %w", s.dir, err)
	}
	return nil
}

// startSegment creates segment n, with its header, as the one appended to.
func (s *spool) startSegment(n uint64) error {
	path := s.path(n, "seg")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment %s: %w", path, err)
	}
	if _, err = f.Write(encodeHeader(kindData, n)); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = s.syncDir()
	}
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("spool: create segment %s: %w", path, err)
	}
	sg := &segment{num: n, dataSize: headerSize}
	s.segs[n] = sg
	s.active, s.data = sg, f
	s.bytes += headerSize
	return nil
}

// append writes entries, spooled at at, as one write and fsyncs it; it
// returns the first entry's sequence number (the others follow it) and
// their segment. Either every entry is durable or none is written.
func (s *spool) append(entries []types.PutEventsRequestEntry, at time.Time) (first, seg uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return 0, 0, s.broken
	}
	first = s.nextSeq
	var buf []byte
	for i, e := range entries {
		p, err := encodeData(first+uint64(i), at, e)
		if err != nil {
			return 0, 0, fmt.Errorf("spool: encode entry %d: %w", i, err)
		}
		if len(p) > maxRecord {
			return 0, 0, fmt.Errorf("spool: entry %d is %d bytes encoded, over the spool's %d-byte record limit (EventBridge takes at most 256 KiB)", i, len(p), maxRecord)
		}
		buf = appendFrame(buf, p)
	}
	need := int64(len(buf))
	if s.bytes+need > s.max {
		return 0, 0, &SpoolFullError{Dir: s.dir, Used: s.bytes, Max: s.max, Need: need}
	}
	sg := s.active
	n, err := s.data.Write(buf)
	if err == nil {
		if err = s.data.Sync(); err != nil {
			// After a failed fsync the page cache's state is unknown
			// (it may report the next one clean): trust nothing more.
			s.broken = fmt.Errorf("spool %s: fsync: %v: %w", s.dir, err, errSpoolBroken)
			return 0, 0, s.broken
		}
	}
	if err != nil {
		// Undo a partial write (a full disk), so the next append does not
		// follow a torn record.
		if n > 0 {
			if terr := s.data.Truncate(sg.dataSize); terr != nil {
				s.broken = fmt.Errorf("spool %s: a write failed (%v) and could not be undone (%v): %w", s.dir, err, terr, errSpoolBroken)
				return 0, 0, s.broken
			}
		}
		return 0, 0, fmt.Errorf("spool %s: write: %w", s.dir, err)
	}
	sg.dataSize += need
	sg.records += len(entries)
	s.bytes += need
	s.nextSeq += uint64(len(entries))
	if sg.dataSize >= s.segMax {
		// A segment that cannot be started now is tried again at the next
		// append; the entries above are durable either way.
		_ = s.roll()
	}
	return first, sg.num, nil
}

// roll seals the active segment and starts the next.
func (s *spool) roll() error {
	old, oldData := s.active, s.data
	if err := s.startSegment(old.num + 1); err != nil {
		return err
	}
	oldData.Close()
	if old.acked == old.records {
		return s.remove(old)
	}
	return nil
}

// ack records that entries (seq → status and text) of their segments are
// settled, fsync'd, and deletes the segments that leaves done.
func (s *spool) ack(seqs map[uint64][]ackRec) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	for num, recs := range seqs {
		sg := s.segs[num]
		if sg == nil {
			continue
		}
		var buf []byte
		created := false
		if sg.ack == nil {
			f, err := os.OpenFile(s.path(num, "ack"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				s.broken = fmt.Errorf("spool %s: open acknowledgements: %v: %w", s.dir, err, errSpoolBroken)
				return s.broken
			}
			sg.ack = f
			if sg.ackLen == 0 {
				buf = encodeHeader(kindAck, num)
				created = true
			}
		}
		for _, r := range recs {
			buf = appendFrame(buf, encodeAck(r.seq, r.status, r.text))
		}
		_, err := sg.ack.Write(buf)
		if err == nil {
			err = sg.ack.Sync()
		}
		if err == nil && created {
			err = s.syncDir()
		}
		if err != nil {
			s.broken = fmt.Errorf("spool %s: record acceptance: %v (entries accepted since the last good record are sent again): %w", s.dir, err, errSpoolBroken)
			return s.broken
		}
		sg.ackLen += int64(len(buf))
		sg.acked += len(recs)
		s.bytes += int64(len(buf))
		if sg != s.active && sg.acked >= sg.records {
			// A segment that cannot be deleted now is deleted when the
			// spool is next opened: it holds nothing unsettled.
			_ = s.remove(sg)
		}
	}
	return nil
}

// ackRec is one entry's acknowledgement.
type ackRec struct {
	seq    uint64
	status byte
	text   string
}

// remove deletes a segment whose entries are all settled: data first, made
// durable, then acknowledgements.
func (s *spool) remove(sg *segment) error {
	if sg.ack != nil {
		sg.ack.Close()
		sg.ack = nil
	}
	if err := os.Remove(s.path(sg.num, "seg")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: remove a settled segment: %w", err)
	}
	if err := s.syncDir(); err != nil {
		return err
	}
	if err := os.Remove(s.path(sg.num, "ack")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: remove a settled segment's acknowledgements: %w", err)
	}
	if _, ok := s.segs[sg.num]; ok {
		s.bytes -= sg.dataSize + sg.ackLen
		delete(s.segs, sg.num)
	}
	return nil
}

// size is the spool's bytes on disk.
func (s *spool) size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// close closes every file, deletes the active segment if nothing in it is
// unsettled, and releases the lock.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.data != nil {
		s.data.Close()
		s.data = nil
		if s.broken == nil && s.active.acked >= s.active.records {
			err = s.remove(s.active)
		}
	}
	for _, sg := range s.segs {
		if sg.ack != nil {
			sg.ack.Close()
			sg.ack = nil
		}
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	if s.broken == nil {
		s.broken = fmt.Errorf("spool %s closed: %w", s.dir, errSpoolBroken)
	}
	return err
}
