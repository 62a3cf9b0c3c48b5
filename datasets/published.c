/* published.c -- the published numbers (published.h). */
#include "published.h"

#include <math.h>
#include <stddef.h>

#define NA NAN
#define O_LORA_TABLE "O-LoRA (EMNLP 2023) Table 2, T5-large; reused by N-LoRA"
#define N_LORA_FIG "N-LoRA (COLING 2025) Figure 1(c) bar labels, T5-large"

static const cl_published_acc acc[] = {
    {"SeqFT", NULL, "T5-large", {18.9, 24.9, 41.7, 7.4, 7.4, 7.5}, O_LORA_TABLE},
    {"SeqLoRA", "seqlora", "T5-large", {44.6, 32.7, 53.7, 2.3, 0.6, 1.9}, O_LORA_TABLE},
    {"IncLoRA", "inclora", "T5-large", {66.0, 64.9, 68.3, 63.3, 58.5, 61.7}, O_LORA_TABLE},
    {"Replay", NULL, "T5-large", {55.2, 56.9, 61.3, 55.0, 54.6, 53.1}, O_LORA_TABLE},
    {"EWC", NULL, "T5-large", {48.7, 47.7, 54.5, 45.3, 44.5, 45.6}, O_LORA_TABLE},
    {"LwF", NULL, "T5-large", {54.4, 53.1, 49.6, 50.1, 43.1, 47.4}, O_LORA_TABLE},
    {"L2P", NULL, "T5-large", {60.3, 61.7, 61.1, 57.5, 53.8, 56.9}, O_LORA_TABLE},
    {"LFPT5", NULL, "T5-large", {67.6, 72.6, 77.9, 70.4, 68.2, 69.1}, O_LORA_TABLE},
    {"O-LoRA", "olora", "T5-large", {75.4, 75.7, 76.3, 72.3, 64.8, 71.6}, N_LORA_FIG},
    {"N-LoRA", "nlora", "T5-large", {79.2, 78.4, 78.8, 73.6, 70.3, 73.2}, N_LORA_FIG},
    {"ProgPrompt", NULL, "T5-large", {75.2, 75.0, 75.1, 78.0, 77.7, 77.9}, O_LORA_TABLE},
    {"PerTaskFT", NULL, "T5-large", {70.0, 70.0, 70.0, 78.1, 78.1, 78.1}, O_LORA_TABLE},
    {"MTL", NULL, "T5-large", {80.0, 80.0, 80.0, 76.5, 76.5, 76.5}, O_LORA_TABLE},
    {"O-LoRA", "olora", "LLaMA-7B", {76.8, 75.7, 75.7, NA, NA, NA}, "O-LoRA, model-size table"},
    {"N-LoRA", "nlora", "LLaMA-7B", {77.2, 77.3, 78.4, NA, NA, NA},
     "N-LoRA LLaMA-7B (one secondary extraction; low confidence)"},
};

static const cl_published_geom geom[] = {
    {"O-LoRA", 0.466, 26.38, 6.80, "N-LoRA Figures 1(c) and 3, T5-large"},
    {"N-LoRA", 0.008, 6.47, 0.14, "N-LoRA Figures 1(c) and 3, T5-large"},
};

int cl_published_acc_count(void) { return (int)(sizeof acc / sizeof acc[0]); }
const cl_published_acc *cl_published_acc_at(int i) { return &acc[i]; }
int cl_published_geom_count(void) { return (int)(sizeof geom / sizeof geom[0]); }
const cl_published_geom *cl_published_geom_at(int i) { return &geom[i]; }
