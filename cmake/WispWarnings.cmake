# Warnings are errors for wisp's own code (not for Mbed TLS built from source).
set(WISP_WARNINGS
    -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef
    -Wno-unused-parameter)
