package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Format of every recording.
const (
	Rate       = 8000 // samples per second per channel
	Channels   = 2    // caller left, agent right
	headerSize = 44
	frameSize  = Channels * 2 // bytes of one stereo sample
)

// Sides of a call.
const (
	Caller = 0 // left channel
	Agent  = 1 // right channel
)

// flushFrames is how much audio is gathered before it is written to disk:
// a killed process loses at most this much.
const flushFrames = Rate / 4

// lag is how far behind the clock a silent side is padded with silence so
// that the other side's audio can be written.
const lag = 500 * time.Millisecond

// Writer writes one call's recording. Its methods are safe for concurrent
// use (the caller's audio and the agent's usually come from two
// goroutines).
type Writer struct {
	path  string
	start time.Time
	now   func() time.Time

	mu      sync.Mutex // guards everything below
	f       *os.File   // nil once closed
	pending [2][]int16 // per side, samples of frames [written, written+len)
	written int64      // frames in the file
	out     []byte     // reused interleaving buffer
	err     error      // first write error; the recording stops there
	done    bool       // finalized: no more audio
}

// Create starts a recording at path (truncating it) and takes an exclusive
// lock on it that lasts until Close or the process's death: RecoverDir
// leaves a locked file alone.
func Create(path string) (*Writer, error) {
	return create(path, time.Now)
}

func create(path string, now func() time.Time) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("create recording %s: locked by another process: %w", path, err)
	}
	if _, err := f.Write(header(0)); err != nil {
		f.Close()
		return nil, fmt.Errorf("create recording: %w", err)
	}
	return &Writer{path: path, start: now(), now: now, f: f}, nil
}

// Path is the file's path.
func (w *Writer) Path() string { return w.path }

// Start is when the recording started.
func (w *Writer) Start() time.Time { return w.start }

// Caller adds the caller's audio (8 kHz mono), heard now.
func (w *Writer) Caller(pcm []int16) { w.add(Caller, pcm) }

// Agent adds the agent's audio (8 kHz mono), queued now for playback: it
// follows the agent audio queued before it.
func (w *Writer) Agent(pcm []int16) { w.add(Agent, pcm) }

// ClearAgent drops agent audio queued but not yet due (the caller barged in
// and the worker cleared its playback).
func (w *Writer) ClearAgent() {
	w.mu.Lock()
	defer w.mu.Unlock()
	due := w.clock() - w.written
	if p := w.pending[Agent]; int64(len(p)) > max(due, 0) {
		w.pending[Agent] = p[:max(due, 0)]
	}
}

// clock is the current position on the timeline, in frames.
func (w *Writer) clock() int64 { return int64(w.now().Sub(w.start)) * Rate / int64(time.Second) }

func (w *Writer) add(side int, pcm []int16) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.err != nil || w.done {
		return
	}
	now := w.clock()
	// The caller's audio was heard up to now; the agent's plays from now,
	// or after what the agent queued before.
	at := now
	if side == Caller {
		at -= int64(len(pcm))
	}
	at = max(at, w.written+int64(len(w.pending[side])))
	if gap := at - w.written - int64(len(w.pending[side])); gap > 0 {
		w.pending[side] = append(w.pending[side], make([]int16, gap)...)
	}
	w.pending[side] = append(w.pending[side], pcm...)
	w.flush(now-int64(lag)*Rate/int64(time.Second), false)
}

// flush writes the frames both sides have, and pads a side that is silent
// up to frame upTo; with all, everything pending.
func (w *Writer) flush(upTo int64, all bool) {
	n := int64(min(len(w.pending[Caller]), len(w.pending[Agent])))
	longest := int64(max(len(w.pending[Caller]), len(w.pending[Agent])))
	switch {
	case all:
		n = longest
	case upTo-w.written > n:
		n = min(upTo-w.written, longest)
	}
	if n <= 0 || (!all && n < flushFrames) {
		return
	}
	for side := range w.pending {
		if short := n - int64(len(w.pending[side])); short > 0 {
			w.pending[side] = append(w.pending[side], make([]int16, short)...)
		}
	}
	w.out = w.out[:0]
	for i := int64(0); i < n; i++ {
		w.out = binary.LittleEndian.AppendUint16(w.out, uint16(w.pending[Caller][i]))
		w.out = binary.LittleEndian.AppendUint16(w.out, uint16(w.pending[Agent][i]))
	}
	if _, err := w.f.Write(w.out); err != nil {
		w.err = fmt.Errorf("write recording %s: %w", w.path, err)
		return
	}
	w.written += n
	for side := range w.pending {
		w.pending[side] = append(w.pending[side][:0], w.pending[side][n:]...)
	}
}

// Frames is how many stereo samples the recording holds so far (written
// and pending).
func (w *Writer) Frames() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written + int64(max(len(w.pending[Caller]), len(w.pending[Agent])))
}

// Close writes what is pending, fixes up the header, syncs and closes the
// file (releasing its lock). It returns the first error of the recording.
func (w *Writer) Close() error {
	return errors.Join(w.finalize(), w.release())
}

// finalize writes what is pending, fixes up the header and syncs; the file
// stays open and locked. Audio added afterwards is dropped.
func (w *Writer) finalize() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.done {
		return w.err
	}
	w.done = true
	if w.err == nil {
		w.flush(0, true)
	}
	if w.err == nil {
		if _, err := w.f.WriteAt(header(w.written*frameSize), 0); err != nil {
			w.err = fmt.Errorf("recording header %s: %w", w.path, err)
		} else if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("sync recording %s: %w", w.path, err)
		}
	}
	return w.err
}

// release closes the file, releasing its lock.
func (w *Writer) release() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("close recording %s: %w", w.path, err)
	}
	return nil
}

// header is the 44-byte header of a WAV file of dataBytes of audio.
func header(dataBytes int64) []byte {
	h := make([]byte, 0, headerSize)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, uint32(36+dataBytes))
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, 1) // PCM
	h = binary.LittleEndian.AppendUint16(h, Channels)
	h = binary.LittleEndian.AppendUint32(h, Rate)
	h = binary.LittleEndian.AppendUint32(h, Rate*frameSize)
	h = binary.LittleEndian.AppendUint16(h, frameSize)
	h = binary.LittleEndian.AppendUint16(h, 16)
	h = append(h, "data"...)
	return binary.LittleEndian.AppendUint32(h, uint32(dataBytes))
}

// ErrNotRecording is returned by Recover for a file that is not a
// recording of this package.
var ErrNotRecording = errors.New("not a recording")

// Recover makes the file at path, left by a process killed while
// recording, a valid WAV: it drops a torn last frame and fixes up the
// header's sizes. It returns the number of frames kept. A file already
// valid is left as it is.
func Recover(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("recover recording: %w", err)
	}
	defer f.Close()
	h := make([]byte, headerSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, fmt.Errorf("recover recording %s: %w: %v", path, ErrNotRecording, err)
	}
	want := header(0)
	if string(h[:4]) != "RIFF" || string(h[8:40]) != string(want[8:40]) {
		return 0, fmt.Errorf("recover recording %s: %w", path, ErrNotRecording)
	}
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("recover recording: %w", err)
	}
	data := (info.Size() - headerSize) / frameSize * frameSize
	if info.Size() != headerSize+data {
		if err := f.Truncate(headerSize + data); err != nil {
			return 0, fmt.Errorf("recover recording %s: %w", path, err)
		}
	}
	if string(h) != string(header(data)) {
		if _, err := f.WriteAt(header(data), 0); err != nil {
			return 0, fmt.Errorf("recover recording %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("recover recording %s: %w", path, err)
	}
	return data / frameSize, nil
}
