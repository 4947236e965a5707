/* common/devices.c — listing PortAudio's input devices. */
#include "devices.h"

#include <portaudio.h>

int es_list_input_devices(FILE *out) {
    PaError e = Pa_Initialize();
    PaDeviceIndex def;
    int n = 0;
    if (e != paNoError) {
        fprintf(stderr, "PortAudio: %s\n", Pa_GetErrorText(e));
        return -1;
    }
    def = Pa_GetDefaultInputDevice();
    for (int i = 0; i < Pa_GetDeviceCount(); i++) {
        const PaDeviceInfo *d = Pa_GetDeviceInfo(i);
        if (!d || d->maxInputChannels < 1) continue;
        fprintf(out, "%3d%s %s (%d ch, %.0f Hz)\n", i, i == def ? "*" : " ", d->name,
                d->maxInputChannels, d->defaultSampleRate);
        n++;
    }
    if (n == 0) fprintf(out, "no input devices\n");
    Pa_Terminate();
    return 0;
}
