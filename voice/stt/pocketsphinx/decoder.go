package pocketsphinx

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>

static int vox_cmn_set(ps_decoder_t *ps, const float *in, int n) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || n != f->cmn_struct->veclen) return -1;
	mfcc_t v[64];
	for (int i = 0; i < n; i++) v[i] = (mfcc_t)in[i];
	cmn_live_set(f->cmn_struct, v);
	return 0;
}

static int vox_cmn_get(ps_decoder_t *ps, float *out, int n) {
	feat_t *f = ps_get_feat(ps);
	if (f == NULL || f->cmn_struct == NULL || n < f->cmn_struct->veclen) return -1;
	mfcc_t v[64];
	cmn_live_get(f->cmn_struct, v);
	for (int i = 0; i < f->cmn_struct->veclen; i++) out[i] = (float)v[i];
	return f->cmn_struct->veclen;
}

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

// cmn is the decoder's current cepstral mean.
func (d *decoder) cmn() []float32 {
	out := make([]float32, 64)
	n := C.vox_cmn_get(d.ps, (*C.float)(unsafe.Pointer(&out[0])), 64)
	if n < 0 {
		return nil
	}
	return out[:n]
}

// setCMN sets the decoder's cepstral mean.
func (d *decoder) setCMN(v []float32) error {
	if len(v) == 0 || C.vox_cmn_set(d.ps, (*C.float)(unsafe.Pointer(&v[0])), C.int(len(v))) < 0 {
		return fmt.Errorf("pocketsphinx: cannot set a cepstral mean of %d values", len(v))
	}
	return nil
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
