/* common/devices.h — PortAudio's input devices, for `earshot devices` and
 * `earshotd --list-devices`. */
#ifndef EARSHOT_DEVICES_H
#define EARSHOT_DEVICES_H

#include <stdio.h>

/* "  3* name (2 ch, 48000 Hz)" per input device, * on the default. -1 when
 * PortAudio cannot start (the reason goes to stderr). */
int es_list_input_devices(FILE *out);

#endif
