package recording

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/spool"
)

// Key is the object key of a call's recording:
// recordings/{org}/{yyyy}/{mm}/{dd}/{call_id}.wav, dated by the call's start
// in UTC.
func Key(orgID, callID string, started time.Time) string {
	return fmt.Sprintf("recordings/%s/%s/%s.wav", orgID, started.UTC().Format("2006/01/02"), callID)
}

// Meta names a recording's call; it is written beside the audio when the
// recording starts, so that a recording left by a killed worker can still
// be uploaded under the right key and attached to the right call.
type Meta struct {
	CallID    string    `json:"call_id"`
	OrgID     string    `json:"org_id"`
	AgentID   string    `json:"agent_id"`
	StartedAt time.Time `json:"started_at"`
}

// Job is one upload waiting in the spool (keyed by call id).
type Job struct {
	Meta
	Path string `json:"path"`
	Key  string `json:"key"`
	// Status is the call's status when the recording ended (its final
	// status, or in-progress for a recording recovered from a killed
	// worker).
	Status    string `json:"status"`
	Recovered bool   `json:"recovered,omitempty"`
}

// MinIO says how to reach the host's MinIO.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool // https
}

// NewClient returns a minio-go client for m.
func NewClient(m MinIO) (*minio.Client, error) {
	if m.Endpoint == "" || m.Bucket == "" {
		return nil, errors.New("minio: endpoint and bucket are required")
	}
	c, err := minio.New(m.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""),
		Secure: m.Secure,
	})
	if err != nil {
		return nil, fmt.Errorf("minio %s: %w", m.Endpoint, err)
	}
	return c, nil
}

// Uploader records calls into Dir and uploads the recordings through
// Spool to Bucket.
type Uploader struct {
	// Dir holds recordings being written and waiting for upload.
	Dir    string
	Spool  *spool.Spool
	Client *minio.Client
	Bucket string
	// Attach tells the Backend the recording's key once it is uploaded
	// (runtimeclient's PutCall with the job's status and RecordingKey).
	// An error keeps the job and retries it (upload included); an error
	// wrapped by spool.Permanent gives it up. Nil: nothing is told.
	Attach func(ctx context.Context, job Job) error
	Logger *slog.Logger

	// putOptions is used by the tests to watch an upload's progress.
	putOptions minio.PutObjectOptions

	mu          sync.Mutex // guards bucketReady
	bucketReady bool
}

func (u *Uploader) logger() *slog.Logger {
	if u.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Logger
}

func (u *Uploader) paths(callID string) (wav, meta string, err error) {
	if !runtimeapi.ValidCallID(callID) || !spool.ValidKey(callID) {
		return "", "", fmt.Errorf("recording: bad call id %q", callID)
	}
	base := filepath.Join(u.Dir, callID)
	return base + ".wav", base + ".meta.json", nil
}

// Begin starts recording call m.
func (u *Uploader) Begin(m Meta) (*Writer, error) {
	wav, meta, err := u.paths(m.CallID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording dir: %w", err)
	}
	if m.StartedAt.IsZero() {
		m.StartedAt = time.Now()
	}
	b, _ := json.Marshal(m)
	if err := writeAtomic(meta, b); err != nil {
		return nil, err
	}
	return Create(wav)
}

// Finish closes w and spools its upload, before the recording's lock is
// released (so RecoverDir never takes it for a dead worker's). status is
// the call's final status.
func (u *Uploader) Finish(w *Writer, m Meta, status string) error {
	werr := w.finalize()
	job := Job{Meta: m, Path: w.path, Key: Key(m.OrgID, m.CallID, m.StartedAt), Status: status}
	if m.StartedAt.IsZero() {
		job.Key = Key(m.OrgID, m.CallID, w.start)
	}
	serr := u.Spool.Put(m.CallID, job)
	cerr := w.release()
	return errors.Join(werr, serr, cerr)
}

// RecoverDir spools the upload of every recording in Dir that no process
// is writing and that is not spooled yet: those of workers that died
// mid-call. It fixes each one up (Recover) first and returns how many it
// spooled.
func (u *Uploader) RecoverDir() (int, error) {
	metas, err := filepath.Glob(filepath.Join(u.Dir, "*.meta.json"))
	if err != nil {
		return 0, err
	}
	pending, err := u.Spool.Pending()
	if err != nil {
		return 0, err
	}
	spooled := map[string]bool{}
	for _, k := range pending {
		spooled[k] = true
	}
	n := 0
	for _, mp := range metas {
		callID := strings.TrimSuffix(filepath.Base(mp), ".meta.json")
		wav, _, err := u.paths(callID)
		if err != nil || spooled[callID] {
			continue
		}
		b, err := os.ReadFile(mp)
		var m Meta
		if err != nil || json.Unmarshal(b, &m) != nil || m.CallID != callID {
			u.logger().Warn("unreadable recording metadata; left in place", "path", mp, "err", err)
			continue
		}
		f, err := os.OpenFile(wav, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			os.Remove(mp) // uploaded, or never started
			continue
		} else if err != nil {
			return n, fmt.Errorf("recover %s: %w", wav, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // a live worker is recording it
			continue
		}
		if u.Spool.Has(callID) { // finished meanwhile
			f.Close()
			continue
		}
		frames, err := Recover(wav)
		if errors.Is(err, ErrNotRecording) {
			// Killed before its header was written: nothing was recorded.
			u.logger().Warn("recording left without audio; removed", "path", wav, "err", err)
			os.Remove(wav)
			os.Remove(mp)
			f.Close()
			continue
		}
		job := Job{Meta: m, Path: wav, Key: Key(m.OrgID, m.CallID, m.StartedAt), Status: runtimeapi.CallInProgress, Recovered: true}
		if err == nil {
			err = u.Spool.Put(callID, job)
		}
		f.Close()
		if err != nil {
			return n, err
		}
		u.logger().Info("recovered the recording of a call whose worker died", "call_id", callID,
			"seconds", float64(frames)/Rate, "key", job.Key)
		n++
	}
	return n, nil
}

// Run drains the upload spool until ctx ends (see spool.Drainer).
func (u *Uploader) Run(ctx context.Context) error {
	d := &spool.Drainer{Spool: u.Spool, Sink: u.Sink, Logger: u.logger(), Backoff: time.Second, MaxBackoff: time.Minute}
	return d.Run(ctx)
}

// Sink uploads one spooled Job, tells the Backend, and removes the local
// files.
func (u *Uploader) Sink(ctx context.Context, _ string, b []byte) error {
	var job Job
	if err := json.Unmarshal(b, &job); err != nil {
		return spool.Permanent(fmt.Errorf("recording job: %w", err))
	}
	wav, meta, err := u.paths(job.CallID)
	if err != nil {
		return spool.Permanent(err)
	}
	if err := u.ensureBucket(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(wav); err == nil {
		opts := u.putOptions
		opts.ContentType = "audio/wav"
		if _, err := u.Client.FPutObject(ctx, u.Bucket, job.Key, wav, opts); err != nil {
			return fmt.Errorf("upload %s: %w", job.Key, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	} else if _, err := u.Client.StatObject(ctx, u.Bucket, job.Key, minio.StatObjectOptions{}); err != nil {
		// Neither here nor there: nothing left to upload.
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return spool.Permanent(fmt.Errorf("recording %s: the file is gone and was never uploaded", job.CallID))
		}
		return fmt.Errorf("stat %s: %w", job.Key, err)
	}
	if u.Attach != nil {
		if err := u.Attach(ctx, job); err != nil {
			return fmt.Errorf("attach recording of call %s: %w", job.CallID, err)
		}
	}
	for _, p := range []string{wav, meta} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			u.logger().Warn("remove uploaded recording", "path", p, "err", err)
		}
	}
	u.logger().Info("recording uploaded", "call_id", job.CallID, "key", job.Key, "recovered", job.Recovered)
	return nil
}

func (u *Uploader) ensureBucket(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bucketReady {
		return nil
	}
	ok, err := u.Client.BucketExists(ctx, u.Bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", u.Bucket, err)
	}
	if !ok {
		if err := u.Client.MakeBucket(ctx, u.Bucket, minio.MakeBucketOptions{}); err != nil &&
			minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return fmt.Errorf("make bucket %s: %w", u.Bucket, err)
		}
	}
	u.bucketReady = true
	return nil
}

// writeAtomic writes b to path through a synced temporary file renamed
// over it.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
