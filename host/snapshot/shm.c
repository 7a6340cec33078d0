/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vpowerd: the shared-memory channel through which the engine publishes to the mount holder.
 *
 * A memfd holds a small header and one publication, guarded by a seqlock:
 * the engine makes the sequence odd, writes, and makes it even again; the
 * holder copies the bytes and keeps the copy only if the sequence was even
 * and unchanged around it. A write cut short by a crash leaves the sequence
 * odd, so the holder simply keeps serving what it copied last (design.md:
 * "while the engine is down, reads return the last published values").
 *
 * Both processes map one fixed reservation of address space, so the engine
 * can grow the file as the VM count grows without the holder remapping
 * under its FUSE threads; nobody touches bytes past the file's size. */
#include "config.h"

#include "host/snapshot/shm.h"
#include "shared/vp-counter.h"
#include "shared/vp-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define VP_SHM_MAGIC G_GUINT64_CONSTANT (0x3142555052574f50)   /* "POWRPUB1" */
#define VP_SHM_DATA_OFFSET 4096
#define VP_SHM_RESERVE ((gsize) 256 << 20)   /* 256 MiB of address space, not memory */
#define VP_SHM_GROW_STEP ((gsize) 64 << 10)

typedef struct {
  guint64 magic;
  guint64 sequence;      /* seqlock: odd while the engine writes */
  guint64 data_size;     /* bytes at VP_SHM_DATA_OFFSET */
  /* Set once by the holder, before any engine starts. Memory from a holder
   * that predates it holds 0 there: then each engine picks its own. */
  guint64 origin_key;
} VpShmHeader;

struct _VpShm {
  int fd;
  guint8 *map;
  gsize file_size;       /* engine: what it has grown the file to */
};

static VpShmHeader *
header (VpShm *shm)
{
  return (VpShmHeader *) shm->map;
}

static VpShm *
shm_map (int fd, GError **error)
{
  void *map = mmap (NULL, VP_SHM_RESERVE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot map the snapshot memory: %s", g_strerror (saved));
      return NULL;
    }
  VpShm *shm = g_new0 (VpShm, 1);
  shm->fd = fd;
  shm->map = map;
  return shm;
}

VpShm *
vp_shm_create (GError **error)
{
  int fd = memfd_create ("vpowerd-snapshots", MFD_CLOEXEC);
  if (fd < 0 || ftruncate (fd, VP_SHM_DATA_OFFSET + VP_SHM_GROW_STEP) != 0)
    {
      int saved = errno;
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot create the snapshot memory: %s", g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  VpShm *shm = shm_map (fd, error);
  if (!shm)
    {
      close (fd);
      return NULL;
    }
  header (shm)->magic = VP_SHM_MAGIC;
  header (shm)->origin_key = vp_counter_origin_key_new ();
  return shm;
}

VpShm *
vp_shm_attach (int fd, GError **error)
{
  struct stat st;
  if (fstat (fd, &st) != 0 || st.st_size < VP_SHM_DATA_OFFSET)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "fd %d is not the snapshot memory", fd);
      return NULL;
    }
  VpShm *shm = shm_map (fd, error);
  if (!shm)
    return NULL;
  if (header (shm)->magic != VP_SHM_MAGIC)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "fd %d is not the snapshot memory (bad magic)", fd);
      vp_shm_free (shm);
      return NULL;
    }
  shm->file_size = (gsize) st.st_size;
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  return shm;
}

void
vp_shm_free (VpShm *shm)
{
  if (!shm)
    return;
  munmap (shm->map, VP_SHM_RESERVE);
  close (shm->fd);
  g_free (shm);
}

guint64
vp_shm_origin_key (VpShm *shm)
{
  return header (shm)->origin_key;
}

int
vp_shm_fd (VpShm *shm)
{
  return shm->fd;
}

gboolean
vp_shm_write (VpShm *shm, GBytes *data, GError **error)
{
  gsize size = 0;
  const guint8 *bytes = g_bytes_get_data (data, &size);
  gsize needed = VP_SHM_DATA_OFFSET + size;

  if (needed > VP_SHM_RESERVE)
    {
      g_set_error (error, VP_ERROR, VP_ERROR_IO, "a publication of %" G_GSIZE_FORMAT " bytes does not fit", size);
      return FALSE;
    }
  /* Grow before the write; never shrink, so a reader's bound stays valid. */
  if (needed > shm->file_size)
    {
      gsize grown = (needed + VP_SHM_GROW_STEP - 1) / VP_SHM_GROW_STEP * VP_SHM_GROW_STEP;
      if (ftruncate (shm->fd, (off_t) grown) != 0)
        {
          int saved = errno;
          g_set_error (error, VP_ERROR, VP_ERROR_IO, "cannot grow the snapshot memory: %s", g_strerror (saved));
          return FALSE;
        }
      shm->file_size = grown;
    }

  VpShmHeader *h = header (shm);
  guint64 sequence = __atomic_load_n (&h->sequence, __ATOMIC_RELAXED);
  /* An engine that died mid-write left it odd: start from the next even. */
  sequence += (sequence & 1) ? 1 : 2;
  __atomic_store_n (&h->sequence, sequence - 1, __ATOMIC_RELAXED);
  __atomic_thread_fence (__ATOMIC_RELEASE);
  memcpy (shm->map + VP_SHM_DATA_OFFSET, bytes, size);
  __atomic_store_n (&h->data_size, size, __ATOMIC_RELAXED);
  __atomic_store_n (&h->sequence, sequence, __ATOMIC_RELEASE);
  return TRUE;
}

guint64
vp_shm_sequence (VpShm *shm)
{
  return __atomic_load_n (&header (shm)->sequence, __ATOMIC_ACQUIRE);
}

GBytes *
vp_shm_read (VpShm *shm, guint64 *sequence)
{
  VpShmHeader *h = header (shm);
  for (int attempt = 0; attempt < 100; attempt++)
    {
      guint64 before = __atomic_load_n (&h->sequence, __ATOMIC_ACQUIRE);
      if (before == 0)
        return NULL;   /* nothing published yet */
      if (before & 1)
        {
          g_thread_yield ();
          continue;
        }
      gsize size = __atomic_load_n (&h->data_size, __ATOMIC_RELAXED);
      struct stat st;
      if (fstat (shm->fd, &st) != 0 || VP_SHM_DATA_OFFSET + size > (gsize) st.st_size)
        continue;
      guint8 *copy = g_malloc (MAX (size, 1));
      memcpy (copy, shm->map + VP_SHM_DATA_OFFSET, size);
      __atomic_thread_fence (__ATOMIC_ACQUIRE);
      if (__atomic_load_n (&h->sequence, __ATOMIC_RELAXED) == before)
        {
          *sequence = before;
          return g_bytes_new_take (copy, size);
        }
      g_free (copy);
    }
  return NULL;   /* a writer that died mid-write: keep what we have */
}
