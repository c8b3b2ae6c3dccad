package producer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// spoolWith leaves n entries unsent in a fresh spool (its endpoint refuses
// everything) and returns the directory and its segment file.
func spoolWith(t *testing.T, n int) (dir, seg string) {
	t.Helper()
	dir = t.TempDir()
	p := open(t, &fakeAPI{fail: refuseAll}, Config{SpoolDir: dir})
	if _, err := p.Send(context.Background(), entries(n)...); err != nil {
		t.Fatal(err)
	}
	_ = p.Close(stopped())
	segs := spoolFiles(t, dir)
	if len(segs) != 1 || !strings.HasSuffix(segs[0], ".seg") {
		t.Fatalf("spool files %v, want one segment", segs)
	}
	return dir, filepath.Join(dir, segs[0])
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// A crash in the middle of a write leaves a torn final record: it is cut
// off, and reported with its file and offset; the complete records before
// it are resumed.
func TestSpoolCutsATornTailAndReportsIt(t *testing.T) {
	good, _ := encodeData(99, time.Now(), entries(1)[0])
	whole := appendFrame(nil, good)
	badCRC := append([]byte(nil), whole...)
	badCRC[len(badCRC)-1] ^= 0xff
	for name, tail := range map[string][]byte{
		"partial frame header":             whole[:5],
		"record cut short":                 whole[:len(whole)-3],
		"final CRC mismatch":               badCRC,
		"zeros (size extended, data lost)": make([]byte, 64),
	} {
		t.Run(name, func(t *testing.T) {
			dir, seg := spoolWith(t, 3)
			size := fileSize(t, seg)
			appendBytes(t, seg, tail)
			p := open(t, &fakeAPI{}, Config{SpoolDir: dir})
			defer p.Close(stopped())
			rec := p.Recovery()
			if rec.Resumed != 3 || len(rec.Torn) != 1 {
				t.Fatalf("recovery = %+v, want 3 resumed and one torn tail", rec)
			}
			tt := rec.Torn[0]
			if tt.File != seg || tt.Offset != size || tt.Bytes != int64(len(tail)) {
				t.Errorf("torn tail = %+v, want %s at offset %d, %d bytes", tt, seg, size, len(tail))
			}
			if s := tt.String(); !strings.Contains(s, seg) || !strings.Contains(s, fmt.Sprintf("offset %d", size)) {
				t.Errorf("torn tail says %q, want the file and the offset", s)
			}
			if got := fileSize(t, seg); got != size {
				t.Errorf("segment is %d bytes after the repair, want %d (the torn tail cut off)", got, size)
			}
		})
	}
}

// A torn acknowledgement only means its entries are sent again.
func TestSpoolTornAcknowledgementResendsItsEntries(t *testing.T) {
	dir := t.TempDir()
	api := &fakeAPI{fail: func(call int, _ string) string {
		if call == 0 {
			return ""
		}
		return "InternalFailure"
	}}
	p := open(t, api, Config{SpoolDir: dir, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, Sleep: sleep})
	if _, err := p.Send(context.Background(), entries(12)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return p.Stats().Accepted == 10 })
	_ = p.Close(stopped())
	var ack string
	for _, f := range spoolFiles(t, dir) {
		if strings.HasSuffix(f, ".ack") {
			ack = filepath.Join(dir, f)
		}
	}
	if ack == "" {
		t.Fatalf("no acknowledgement file in %v", spoolFiles(t, dir))
	}
	// Cut the last acknowledgement (entry 9's) in half.
	last := int64(frameSize + 9 + len("id-9"))
	if err := os.Truncate(ack, fileSize(t, ack)-last/2); err != nil {
		t.Fatal(err)
	}
	api2 := &fakeAPI{}
	p2 := open(t, api2, Config{SpoolDir: dir})
	if rec := p2.Recovery(); rec.Resumed != 3 || len(rec.Torn) != 1 || rec.Torn[0].File != ack {
		t.Fatalf("recovery = %+v, want entries 9, 10 and 11 resumed and the acknowledgement file's torn tail", rec)
	}
	if err := p2.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(api2.sentDetails()); got != "[9 10 11]" {
		t.Errorf("resent %s, want [9 10 11]", got)
	}
}

// A damaged record with good records after it is not what a crash leaves:
// the spool refuses to open, naming the file and the offset, and changes
// nothing.
func TestSpoolRefusesCorruptionInTheMiddle(t *testing.T) {
	dir, seg := spoolWith(t, 3)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[headerSize+frameSize+20] ^= 0x01 // inside the first record's payload
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(&fakeAPI{}, Config{SpoolDir: dir})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != seg || ce.Offset != headerSize || !strings.Contains(ce.Reason, "CRC") {
		t.Fatalf("Open = %v, want a CorruptError naming %s at offset %d (CRC)", err, seg, headerSize)
	}
	if !strings.Contains(err.Error(), seg) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", headerSize)) || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("error %q, want the file, the offset and the refusal", err)
	}
	if got := fileSize(t, seg); got != int64(len(b)) {
		t.Errorf("segment is %d bytes after the refused open, want %d (untouched)", got, len(b))
	}
	// The lock was released: once the file is moved aside, the spool opens.
	if err := os.Rename(seg, filepath.Join(t.TempDir(), "aside")); err != nil {
		t.Fatal(err)
	}
	p := open(t, &fakeAPI{}, Config{SpoolDir: dir})
	_ = p.Close(stopped())
}

// A record length that runs past the end with good records after it (a
// flipped bit in a length field) is corruption too, not a torn tail.
func TestSpoolRefusesABadLengthInTheMiddle(t *testing.T) {
	dir, seg := spoolWith(t, 3)
	b, _ := os.ReadFile(seg)
	binary.BigEndian.PutUint32(b[headerSize:], 1<<20)
	_ = os.WriteFile(seg, b, 0o600)
	_, err := Open(&fakeAPI{}, Config{SpoolDir: dir})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != headerSize {
		t.Fatalf("Open = %v, want a CorruptError at offset %d", err, headerSize)
	}
}

func TestSpoolRefusesAnotherFormatVersion(t *testing.T) {
	dir, seg := spoolWith(t, 1)
	b, _ := os.ReadFile(seg)
	copy(b, encodeHeader(kindData, 1))
	binary.BigEndian.PutUint16(b[8:], 2)
	binary.BigEndian.PutUint32(b[20:], crc32c(b[:20]))
	_ = os.WriteFile(seg, b, 0o600)
	_, err := Open(&fakeAPI{}, Config{SpoolDir: dir})
	if !errors.Is(err, errVersion) || !strings.Contains(err.Error(), "version 2") || !strings.Contains(err.Error(), "reads version 1") {
		t.Fatalf("Open = %v, want an unsupported version 2 error naming version 1", err)
	}
}

func TestSpoolFullSaysWhatToChangeAndWritesNothing(t *testing.T) {
	dir := t.TempDir()
	p := open(t, &fakeAPI{fail: refuseAll}, Config{SpoolDir: dir, SpoolMaxBytes: 2048})
	defer p.Close(stopped())
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = p.Send(context.Background(), entries(3)...)
	}
	var full *SpoolFullError
	if !errors.Is(err, ErrSpoolFull) || !errors.As(err, &full) {
		t.Fatalf("Send into a 2 KiB spool = %v, want ErrSpoolFull", err)
	}
	for _, want := range []string{dir, "2 KiB bound", "Config.SpoolMaxBytes", "nothing of it was written"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	before := p.Stats()
	if _, err := p.Send(context.Background(), entries(3)...); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("second Send = %v, want ErrSpoolFull again", err)
	}
	if after := p.Stats(); after.SpoolBytes != before.SpoolBytes || after.Unsent != before.Unsent || after.SpoolBytes > 2048 {
		t.Errorf("a refused Send changed the spool: %+v then %+v", before, after)
	}
}

// Segments roll at SpoolSegmentBytes and each is deleted once every entry
// in it is settled; a closed spool with nothing unsent holds no segment.
func TestSpoolDeletesSettledSegments(t *testing.T) {
	dir := t.TempDir()
	gate := &gatedAPI{fakeAPI: &fakeAPI{}, gate: make(chan struct{})}
	p := open(t, gate, Config{SpoolDir: dir, SpoolSegmentBytes: 600})
	for range 6 {
		if _, err := p.Send(context.Background(), entries(3)...); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(spoolFiles(t, dir)); n < 3 {
		t.Fatalf("%d spool files for 18 entries in 600-byte segments, want several", n)
	}
	close(gate.gate)
	if err := p.Flush(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if files := spoolFiles(t, dir); len(files) > 2 {
		t.Errorf("spool files %v once everything is accepted, want at most the segment being written", files)
	}
	if err := p.Close(within(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if files := spoolFiles(t, dir); len(files) != 0 {
		t.Errorf("spool files %v after Close, want none", files)
	}
}

func TestSpoolIsForOneProducerAtATime(t *testing.T) {
	dir := t.TempDir()
	p := open(t, &fakeAPI{}, Config{SpoolDir: dir})
	_, err := Open(&fakeAPI{}, Config{SpoolDir: dir})
	if !errors.Is(err, ErrSpoolInUse) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second Open = %v, want ErrSpoolInUse naming this process", err)
	}
	_ = p.Close(stopped())
	p2 := open(t, &fakeAPI{}, Config{SpoolDir: dir})
	_ = p2.Close(stopped())
}

// A spool directory that cannot be written fails Open with what to fix,
// and leaves nothing behind.
func TestSpoolNotWritable(t *testing.T) {
	t.Run("a file, not a directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "spool")
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(&fakeAPI{}, Config{SpoolDir: path})
		if !errors.Is(err, ErrSpoolNotWritable) || !strings.Contains(err.Error(), path+" is a file, not a directory") {
			t.Fatalf("Open = %v, want it to say %s is a file", err, path)
		}
	})
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: chmod does not stop root from writing, so a read-only directory cannot be made here")
		}
		parent := t.TempDir()
		ro := filepath.Join(parent, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(ro, 0o700) })
		for _, dir := range []string{ro, filepath.Join(ro, "spool", "deeper")} {
			_, err := Open(&fakeAPI{}, Config{SpoolDir: dir})
			if !errors.Is(err, ErrSpoolNotWritable) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("Open(%s) = %v, want a not-writable error naming it", dir, err)
			}
			if left, _ := os.ReadDir(ro); len(left) != 0 {
				t.Errorf("Open(%s) left %v behind", dir, left)
			}
		}
	})
	t.Run("a missing directory it cannot create, under a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f")
		_ = os.WriteFile(file, nil, 0o600)
		dir := filepath.Join(file, "spool")
		_, err := Open(&fakeAPI{}, Config{SpoolDir: dir})
		if !errors.Is(err, ErrSpoolNotWritable) || !strings.Contains(err.Error(), "cannot create "+dir) {
			t.Fatalf("Open = %v, want it to say it cannot create %s", err, dir)
		}
	})
	t.Run("a missing directory is created, for the owner only", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		p := open(t, &fakeAPI{}, Config{SpoolDir: dir})
		_ = p.Close(stopped())
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("spool dir %v (%v), want created with mode 0700", fi, err)
		}
	})
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
