/*
 * Serial console and printf for guests: the 16550A UART on COM1 (I/O base 0x3F8; LSR at +5, bit 5
 * THRE = transmit holding register empty; National Semiconductor PC16550D datasheet) and a small
 * vsnprintf: %s %c %d %i %u %x %X %p %% with flags '-', '0', '#', a width, and l/ll/z lengths.
 */
#include "tsvmm.h"

#define COM1 0x3F8
#define UART_LSR 5
#define LSR_THRE 0x20

void serial_init(void) {
  outb(COM1 + 1, 0x00); /* IER: no interrupts */
  outb(COM1 + 3, 0x80); /* LCR: DLAB */
  outb(COM1 + 0, 0x01); /* divisor 1 = 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  outb(COM1 + 2, 0x07); /* FCR: FIFO on, cleared */
  outb(COM1 + 4, 0x03); /* MCR: DTR | RTS */
}

void serial_putc(char c) {
  /* Bounded poll: a VMM without a UART must not hang the guest forever. */
  for (int i = 0; i < 100000; i++)
    if (inb(COM1 + UART_LSR) & LSR_THRE) break;
  outb(COM1, (u8)c);
}

void serial_puts(const char *s) {
  while (*s) serial_putc(*s++);
}

struct out {
  char *buf;
  unsigned long size, len;
};

static void emit(struct out *o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void emit_padded(struct out *o, const char *s, unsigned long n, int width, int left, char pad) {
  int fill = width > (int)n ? width - (int)n : 0;
  if (!left) {
    /* keep a sign or 0x prefix ahead of zero padding */
    if (pad == '0') {
      if (n > 0 && (s[0] == '-')) {
        emit(o, *s++);
        n--;
      } else if (n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        emit(o, *s++);
        emit(o, *s++);
        n -= 2;
      }
    }
    while (fill-- > 0) emit(o, pad);
  }
  while (n-- > 0) emit(o, *s++);
  if (left)
    while (fill-- > 0) emit(o, ' ');
}

int vsnprintf(char *buf, unsigned long size, const char *fmt, va_list ap) {
  struct out o = {buf, size, 0};
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      emit(&o, *p);
      continue;
    }
    p++;
    int left = 0, alt = 0, width = 0, lng = 0;
    char pad = ' ';
    for (;; p++) {
      if (*p == '-') left = 1;
      else if (*p == '0') pad = '0';
      else if (*p == '#') alt = 1;
      else break;
    }
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    while (*p == 'l' || *p == 'z') {
      lng++;
      p++;
    }
    char tmp[24];
    char num[24];
    unsigned long n = 0;
    switch (*p) {
      case 's': {
        const char *s = va_arg(ap, const char *);
        if (!s) s = "(null)";
        emit_padded(&o, s, strlen(s), width, left, ' ');
        continue;
      }
      case 'c':
        tmp[0] = (char)va_arg(ap, int);
        emit_padded(&o, tmp, 1, width, left, ' ');
        continue;
      case '%':
        emit(&o, '%');
        continue;
      case 'd':
      case 'i': {
        s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);
        u64 u = v < 0 ? (u64)0 - (u64)v : (u64)v;
        int k = 0;
        do {
          num[k++] = (char)('0' + u % 10);
          u /= 10;
        } while (u);
        if (v < 0) tmp[n++] = '-';
        while (k > 0) tmp[n++] = num[--k];
        break;
      }
      case 'u':
      case 'x':
      case 'X':
      case 'p': {
        u64 u;
        if (*p == 'p') {
          u = (u64)va_arg(ap, void *);
          alt = 1;
        } else {
          u = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
        }
        unsigned base = *p == 'u' ? 10 : 16;
        const char *digits = *p == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        int k = 0;
        do {
          num[k++] = digits[u % base];
          u /= base;
        } while (u);
        if (alt && base == 16) {
          tmp[n++] = '0';
          tmp[n++] = *p == 'X' ? 'X' : 'x';
        }
        while (k > 0) tmp[n++] = num[--k];
        break;
      }
      case '\0':
        p--;
        continue;
      default:
        emit(&o, '%');
        emit(&o, *p);
        continue;
    }
    emit_padded(&o, tmp, n, width, left, left ? ' ' : pad);
  }
  if (o.size > 0) o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
  return (int)o.len;
}

int snprintf(char *buf, unsigned long size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

int printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  serial_puts(buf);
  return n;
}
