/*
 * Runs the fuzz harness on saved inputs without libFuzzer: each argument is
 * a file or a directory of files. Used to replay the corpus under valgrind
 * and with compilers that lack -fsanitize=fuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int
run_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    uint8_t *data;
    long size;

    if (file == NULL || fseek(file, 0, SEEK_END) != 0
        || (size = ftell(file)) < 0 || fseek(file, 0, SEEK_SET) != 0) {
        perror(path);
        return 1;
    }
    data = malloc(size > 0 ? (size_t) size : 1);
    if (data == NULL || fread(data, 1, (size_t) size, file) != (size_t) size) {
        perror(path);
        return 1;
    }
    fclose(file);
    LLVMFuzzerTestOneInput(data, (size_t) size);
    free(data);
    return 0;
}

int
main(int argc, char **argv)
{
    int i, failures = 0, count = 0;
    struct stat st;

    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        DIR *dir;
        struct dirent *entry;
        char path[4096];

        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            failures++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failures += run_file(argv[i]);
            count++;
            continue;
        }
        dir = opendir(argv[i]);
        if (dir == NULL) {
            perror(argv[i]);
            failures++;
            continue;
        }
        while ((entry = readdir(dir)) != NULL) {
            if (entry->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], entry->d_name);
            failures += run_file(path);
            count++;
        }
        closedir(dir);
    }
    printf("replayed %d inputs, %d unreadable\n", count, failures);
    return failures > 0;
}
