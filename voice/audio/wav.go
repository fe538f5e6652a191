package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrFormat is returned for a WAV stream this package cannot read.
var ErrFormat = errors.New("not a 16-bit PCM mono WAV")

// WAVReader streams the samples of a 16-bit mono PCM WAV. It accepts the
// header a streaming writer emits (sizes 0 or 0xFFFFFFFF) and reads until
// EOF.
type WAVReader struct {
	r    *bufio.Reader
	Rate int // samples per second
}

// NewWAVReader reads the header and returns a reader positioned at the
// first sample.
func NewWAVReader(r io.Reader) (*WAVReader, error) {
	br := bufio.NewReaderSize(r, 4096)
	var riff [12]byte
	if _, err := io.ReadFull(br, riff[:]); err != nil {
		return nil, fmt.Errorf("wav header: %w", err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, ErrFormat
	}
	w := &WAVReader{r: br}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("wav chunk: %w", err)
		}
		size := binary.LittleEndian.Uint32(hdr[4:])
		switch string(hdr[0:4]) {
		case "fmt ":
			if size < 16 || size > 64 {
				return nil, ErrFormat
			}
			f := make([]byte, size)
			if _, err := io.ReadFull(br, f); err != nil {
				return nil, fmt.Errorf("wav fmt: %w", err)
			}
			format, channels := binary.LittleEndian.Uint16(f[0:]), binary.LittleEndian.Uint16(f[2:])
			bits := binary.LittleEndian.Uint16(f[14:])
			if (format != 1 && format != 0xFFFE) || channels != 1 || bits != 16 {
				return nil, fmt.Errorf("%w: format %d, %d channels, %d bits", ErrFormat, format, channels, bits)
			}
			w.Rate = int(binary.LittleEndian.Uint32(f[4:]))
		case "data":
			if w.Rate == 0 {
				return nil, ErrFormat
			}
			return w, nil
		default:
			if size > 1<<20 {
				return nil, ErrFormat
			}
			if _, err := br.Discard(int(size + size&1)); err != nil {
				return nil, fmt.Errorf("wav chunk: %w", err)
			}
		}
	}
}

// Read fills pcm with up to len(pcm) samples, returning how many; io.EOF at
// the end.
func (w *WAVReader) Read(pcm []int16) (int, error) {
	buf := make([]byte, 2*len(pcm))
	n, err := io.ReadAtLeast(w.r, buf, 2)
	if n < 2 && err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return 0, err
	}
	// Complete a split sample.
	if n%2 == 1 {
		b, err := w.r.ReadByte()
		if err != nil {
			n--
		} else {
			buf[n] = b
			n++
		}
	}
	for i := 0; i < n/2; i++ {
		pcm[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
	}
	return n / 2, nil
}

// ReadAll reads the rest of the samples.
func (w *WAVReader) ReadAll() ([]int16, error) {
	var out []int16
	buf := make([]int16, 4096)
	for {
		n, err := w.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// ReadWAV reads a whole 16-bit mono WAV.
func ReadWAV(r io.Reader) (pcm []int16, rate int, err error) {
	w, err := NewWAVReader(r)
	if err != nil {
		return nil, 0, err
	}
	pcm, err = w.ReadAll()
	return pcm, w.Rate, err
}

// WAV encodes pcm as a 16-bit mono WAV file.
func WAV(pcm []int16, rate int) []byte {
	out := make([]byte, 44+2*len(pcm))
	copy(out[0:], "RIFF")
	binary.LittleEndian.PutUint32(out[4:], uint32(36+2*len(pcm)))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1)
	binary.LittleEndian.PutUint16(out[22:], 1)
	binary.LittleEndian.PutUint32(out[24:], uint32(rate))
	binary.LittleEndian.PutUint32(out[28:], uint32(2*rate))
	binary.LittleEndian.PutUint16(out[32:], 2)
	binary.LittleEndian.PutUint16(out[34:], 16)
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], uint32(2*len(pcm)))
	PutPCM(out[44:], pcm)
	return out
}

// PutPCM writes pcm little-endian into b (2 bytes a sample).
func PutPCM(b []byte, pcm []int16) {
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
}

// PCM decodes little-endian 16-bit samples; an odd last byte is ignored.
func PCM(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}
