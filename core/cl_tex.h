/*
 * cl_tex.h -- text as LaTeX: the one escaping function of collide's LaTeX
 * outputs (collide-reproduce's tables.tex, collide-summary --format latex),
 * so that every .tex collide writes escapes the same characters the same
 * way. Not part of the public API: collide.h does not include it.
 */
#ifndef CL_TEX_H
#define CL_TEX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* text (UTF-8) as LaTeX text, into out (NUL-terminated, cut at a whole
 * character to fit n). Every byte of the result is printable ASCII: the
 * characters LaTeX treats specially (\ { } $ & # % _ ^ ~ < > | ") are
 * escaped, Greek letters and mathematical symbols (λ, ±, ×, ΔW, ...) become
 * \ensuremath{...}, typographic dashes and quotes their TeX ligatures, "--"
 * stays two hyphens, control characters a space, and any other non-ASCII
 * character "?". */
void cl_tex_escape(const char *text, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
