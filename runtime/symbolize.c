/*
 * symbolize.c - ELF symbol lookup for dumps (symbolize.h).
 *
 * Invariants: mods[0..nmods) are objects seen so far, each with its load
 * bias; an object's table, once loaded (loaded = true), never changes and
 * its names point into a read-only mapping of the file that is never
 * unmapped, so returned names stay valid. Everything is under `lock`
 * (symbolization is rare and never on a hot path).
 */
#include "symbolize.h"
#include "alloc.h"
#include "mutex.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct sym {
  uintptr_t addr; /* file-relative (add the bias) */
  size_t size;
  const char *name;
};

struct module {
  uintptr_t bias;
  char path[256];
  const char *shortname; /* the last path component */
  bool loaded;
  struct sym *syms;
  size_t nsyms;
};

/* Justification: a process rarely maps more than a few dozen objects with
 * code; past the limit, addresses print as numbers. */
#define MAX_MODULES 128

static struct weft__mutex lock = WEFT__MUTEX_INIT;
static struct module mods[MAX_MODULES];
static size_t nmods;

struct find {
  uintptr_t pc;
  uintptr_t bias;
  const char *name;
  bool found;
  bool exec; /* found in a PF_X segment */
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  struct find *f = arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (f->pc >= lo && f->pc < lo + ph->p_memsz) {
      f->bias = info->dlpi_addr;
      f->name = info->dlpi_name;
      f->found = true;
      f->exec = (ph->p_flags & PF_X) != 0;
      return 1;
    }
  }
  return 0;
}

static int by_addr(const void *a, const void *b) {
  const struct sym *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Loads @m's function symbols from its file; leaves nsyms 0 if it cannot. */
static void load(struct module *m) {
  m->loaded = true;
  int fd = open(m->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  void *map = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(ElfW(Ehdr)))
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return;
  size_t len = (size_t)st.st_size;
  const unsigned char *base = map;
  const ElfW(Ehdr) *eh = map;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
      eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len) {
    munmap(map, len);
    return;
  }
  const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
  const ElfW(Shdr) *tab = NULL;
  for (int want = SHT_SYMTAB; want && !tab; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0)
    for (unsigned i = 0; i < eh->e_shnum; i++)
      if (sh[i].sh_type == (unsigned)want && sh[i].sh_link < eh->e_shnum) {
        tab = &sh[i];
        break;
      }
  if (!tab || tab->sh_offset + tab->sh_size > len) {
    munmap(map, len);
    return;
  }
  const ElfW(Shdr) *strs = &sh[tab->sh_link];
  if (strs->sh_offset + strs->sh_size > len) {
    munmap(map, len);
    return;
  }
  const ElfW(Sym) *s = (const ElfW(Sym) *)(base + tab->sh_offset);
  size_t count = tab->sh_size / sizeof(ElfW(Sym)), n = 0;
  struct sym *syms = malloc(count * sizeof *syms + 1);
  if (!syms) {
    munmap(map, len);
    return;
  }
  const char *names = (const char *)(base + strs->sh_offset);
  for (size_t i = 0; i < count; i++) {
    unsigned type = ELF64_ST_TYPE(s[i].st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s[i].st_value == 0 ||
        s[i].st_name >= strs->sh_size)
      continue;
    syms[n++] = (struct sym){s[i].st_value, s[i].st_size, names + s[i].st_name};
  }
  qsort(syms, n, sizeof *syms, by_addr);
  m->syms = syms;
  m->nsyms = n; /* the mapping stays: the names point into it */
}

static struct module *module_of(uintptr_t pc) {
  struct find f = {.pc = pc};
  dl_iterate_phdr(find_object, &f);
  if (!f.found) return NULL;
  for (size_t i = 0; i < nmods; i++)
    if (mods[i].bias == f.bias) return &mods[i];
  if (nmods == MAX_MODULES) return NULL;
  struct module *m = &mods[nmods++];
  memset(m, 0, sizeof *m);
  m->bias = f.bias;
  const char *path = f.name && *f.name ? f.name : "/proc/self/exe";
  snprintf(m->path, sizeof m->path, "%s", path);
  if (!(f.name && *f.name)) {
    /* The main program: its own name, for the reader. */
    ssize_t k = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
    if (k > 0) m->path[k] = '\0';
    else snprintf(m->path, sizeof m->path, "/proc/self/exe");
  }
  const char *slash = strrchr(m->path, '/');
  m->shortname = slash ? slash + 1 : m->path;
  return m;
}

/* Under lock. */
static const struct sym *lookup(struct module *m, uintptr_t pc) {
  if (!m->loaded) load(m);
  uintptr_t rel = pc - m->bias;
  size_t lo = 0, hi = m->nsyms;
  while (lo < hi) { /* the last symbol at or below rel */
    size_t mid = lo + (hi - lo) / 2;
    if (m->syms[mid].addr <= rel) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return NULL;
  const struct sym *s = &m->syms[lo - 1];
  if (s->size && rel >= s->addr + s->size) return NULL;
  return s;
}

void weft__symbolize(const void *addr, int is_return, char *buf, size_t len) {
  uintptr_t pc = (uintptr_t)addr - (is_return && addr ? 1 : 0);
  weft__mutex_lock(&lock);
  struct module *m = module_of(pc);
  const struct sym *s = m ? lookup(m, pc) : NULL;
  if (s)
    snprintf(buf, len, "%s+0x%zx (%s)", s->name, (size_t)(pc - m->bias - s->addr) + (is_return ? 1 : 0),
             m->shortname);
  else if (m)
    snprintf(buf, len, "%p (%s+0x%zx)", addr, m->shortname, (size_t)((uintptr_t)addr - m->bias));
  else
    snprintf(buf, len, "%p", addr);
  weft__mutex_unlock(&lock);
}

size_t weft__frames_valid(void *const *frames, size_t n) {
  for (size_t i = 0; i < n; i++) {
    struct find f = {.pc = (uintptr_t)frames[i] - (i > 0)};
    dl_iterate_phdr(find_object, &f);
    if (!f.exec) return i;
  }
  return n;
}

int weft__is_return_address(const void *ret) {
  struct find f = {.pc = (uintptr_t)ret - 1};
  dl_iterate_phdr(find_object, &f);
  if (!f.exec || (uintptr_t)ret < 8) return 0;
  /* The instruction before it must be a call; its bytes are in the same
   * executable mapping (f found the byte just before). */
  const unsigned char *p = ret;
#if defined(__x86_64__)
  if (p[-5] == 0xE8) return 1; /* call rel32 */
  /* call r/m64: FF /2, with a ModRM (+ SIB, displacement) of 1 to 6 bytes. */
  for (int len = 2; len <= 7; len++)
    if (p[-len] == 0xFF && ((p[-len + 1] >> 3) & 7) == 2) return 1;
  return 0;
#elif defined(__aarch64__)
  uint32_t insn;
  memcpy(&insn, p - 4, 4);
  return (insn & 0xFC000000u) == 0x94000000u /* bl */ || (insn & 0xFFFFFC1Fu) == 0xD63F0000u /* blr */;
#else
  return 1;
#endif
}
