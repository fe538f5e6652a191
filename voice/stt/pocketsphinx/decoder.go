package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>

static ps_decoder_t *vox_ps_new(int argc, char **argv, cmd_ln_t **cfg) {
	*cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, FALSE);
	if (*cfg == NULL) return NULL;
	return ps_init(*cfg);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// decoder is one PocketSphinx decoder. It is not safe for concurrent use.
type decoder struct {
	ps    *C.ps_decoder_t
	cfg   *C.cmd_ln_t
	inUtt bool
}

func newDecoder(args []string) (*decoder, error) {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	var cfg *C.cmd_ln_t
	ps := C.vox_ps_new(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])), &cfg)
	if ps == nil {
		if cfg != nil {
			C.cmd_ln_free_r(cfg)
		}
		return nil, fmt.Errorf("pocketsphinx: cannot load the model (%v)", args)
	}
	return &decoder{ps: ps, cfg: cfg}, nil
}

func (d *decoder) process(pcm []int16) error {
	if len(pcm) == 0 {
		return nil
	}
	if !d.inUtt {
		if C.ps_start_utt(d.ps) < 0 {
			return fmt.Errorf("pocketsphinx: start utterance failed")
		}
		d.inUtt = true
	}
	if C.ps_process_raw(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 0) < 0 {
		return fmt.Errorf("pocketsphinx: decoding failed")
	}
	return nil
}

// hyp is the best hypothesis so far.
func (d *decoder) hyp() string {
	if !d.inUtt {
		return ""
	}
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return ""
	}
	return C.GoString(h)
}

// end finishes the utterance and returns its text.
func (d *decoder) end() (string, error) {
	if !d.inUtt {
		return "", nil
	}
	d.inUtt = false
	if C.ps_end_utt(d.ps) < 0 {
		return "", fmt.Errorf("pocketsphinx: end utterance failed")
	}
	var score C.int32
	h := C.ps_get_hyp(d.ps, &score)
	if h == nil {
		return "", nil
	}
	return C.GoString(h), nil
}

func (d *decoder) free() {
	if d.ps != nil {
		C.ps_free(d.ps)
		d.ps = nil
	}
	if d.cfg != nil {
		C.cmd_ln_free_r(d.cfg)
		d.cfg = nil
	}
}
