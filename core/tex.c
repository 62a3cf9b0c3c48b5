/*
 * tex.c -- text as LaTeX (cl_tex.h): the escaping that every LaTeX output
 * of collide goes through.
 */
#include "cl_tex.h"

#include <stdint.h>
#include <string.h>

/* One UTF-8 character at s: its code point and length; -1 when invalid. */
static int32_t utf8_char(const unsigned char *s, int *len)
{
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
                          : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    *len = 1;
    if (!n)
        return -1;
    int32_t c = n == 1 ? s[0] : s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3f);
    }
    *len = n;
    return c;
}

/* The LaTeX for one character of text (NULL: the ASCII character itself). */
static const char *tex_char(int32_t c)
{
    static const struct { int32_t c; const char *tex; } map[] = {
        {'\\', "\\textbackslash{}"}, {'{', "\\{"}, {'}', "\\}"}, {'$', "\\$"},
        {'&', "\\&"}, {'#', "\\#"}, {'%', "\\%"}, {'_', "\\_"},
        {'^', "\\textasciicircum{}"}, {'~', "\\textasciitilde{}"}, {'<', "\\textless{}"},
        {'>', "\\textgreater{}"}, {'|', "\\textbar{}"}, {'"', "''"},
        {0x00b1, "\\ensuremath{\\pm}"}, {0x00d7, "\\ensuremath{\\times}"},
        {0x00b7, "\\ensuremath{\\cdot}"}, {0x00b2, "\\ensuremath{^2}"},
        {0x0394, "\\ensuremath{\\Delta}"}, {0x03a3, "\\ensuremath{\\Sigma}"},
        {0x03b1, "\\ensuremath{\\alpha}"}, {0x03b5, "\\ensuremath{\\varepsilon}"},
        {0x03bb, "\\ensuremath{\\lambda}"}, {0x03bc, "\\ensuremath{\\mu}"},
        {0x03c1, "\\ensuremath{\\rho}"}, {0x03c3, "\\ensuremath{\\sigma}"},
        {0x03c4, "\\ensuremath{\\tau}"}, {0x1d40, "\\ensuremath{^T}"},
        {0x2016, "\\ensuremath{\\|}"}, {0x2080, "\\ensuremath{_0}"},
        {0x2081, "\\ensuremath{_1}"}, {0x2082, "\\ensuremath{_2}"},
        {0x2013, "--"}, {0x2014, "---"}, {0x2018, "`"}, {0x2019, "'"}, {0x201c, "``"},
        {0x201d, "''"}, {0x2026, "\\ldots{}"}, {0x2190, "\\ensuremath{\\leftarrow}"},
        {0x2192, "\\ensuremath{\\to}"}, {0x2211, "\\ensuremath{\\sum}"},
        {0x2212, "\\ensuremath{-}"}, {0x221a, "\\ensuremath{\\surd}"},
        {0x221e, "\\ensuremath{\\infty}"}, {0x2248, "\\ensuremath{\\approx}"},
        {0x2264, "\\ensuremath{\\leq}"}, {0x2265, "\\ensuremath{\\geq}"},
        {0x27e8, "\\ensuremath{\\langle}"}, {0x27e9, "\\ensuremath{\\rangle}"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i].c == c)
            return map[i].tex;
    if (c < 0 || c >= 0x80)
        return "?"; /* nothing outside ASCII reaches the file */
    if (c < 0x20 || c == 0x7f)
        return " ";
    return NULL;
}

void cl_tex_escape(const char *text, char *out, size_t n)
{
    size_t k = 0;
    if (n == 0)
        return;
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    while (*s) {
        int len;
        int32_t c = utf8_char(s, &len);
        const char *t = tex_char(c);
        char one[2] = {(char)c, 0};
        if (!t) /* "--" would print a dash: "-{}-" keeps two hyphens */
            t = c == '-' && s[1] == '-' ? "-{}" : one;
        size_t lt = strlen(t);
        if (k + lt + 1 > n)
            break;
        for (size_t i = 0; i < lt; i++) /* (memcpy trips GCC's bounds check under ASan) */
            out[k + i] = t[i];
        k += lt;
        s += len;
    }
    out[k] = 0;
}
