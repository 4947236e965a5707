/* Feature descriptions: defaults, round trip, and one clear error per mistake. */
#include <string.h>

#include "check.h"
#include "earshot/features.h"

#define BASE "\"kind\":\"melspectrogram\",\"sample_rate\":16000,\"n_fft\":512,\"hop_length\":160"

/* Each bad description must fail with `code` and a message naming `needle`. */
static void bad(const char *json, int code, const char *needle) {
    es_feature_desc d;
    int rc = es_feature_desc_parse(&d, json, "t.json");
    if (rc != code || !strstr(es_errmsg(), needle) || !strstr(es_errmsg(), "t.json")) {
        fprintf(stderr, "for %s\n  got %s: %s\n  wanted %s naming '%s'\n", json, es_err_name(rc),
                es_errmsg(), es_err_name(code), needle);
        check_failures++;
    }
}

int main(void) {
    es_feature_desc d, d2;
    char buf[2048];

    CHECK_RC(es_feature_desc_parse(&d, "{" BASE ",\"n_mels\":64}", "t.json"), 0);
    CHECK_EQ_INT(d.kind, ES_FEAT_MELSPECTROGRAM);
    CHECK_EQ_INT(d.win_length, 512);      /* torchaudio: win_length = n_fft */
    CHECK_EQ_INT(d.center, 1);
    CHECK(d.power == 2.0);
    CHECK(d.f_min == 0.0 && d.f_max == 8000.0);
    CHECK_EQ_INT(d.mel_scale, ES_MEL_HTK);
    CHECK_EQ_INT(d.mel_norm_slaney, 0);
    CHECK_EQ_INT(d.log, ES_LOG_NONE);
    CHECK_EQ_INT(d.has_norm, 0);
    /* 22050 Hz: torchaudio's f_max default is sample_rate // 2 */
    CHECK_RC(es_feature_desc_parse(&d, "{\"kind\":\"melspectrogram\",\"sample_rate\":22050,"
                                       "\"n_fft\":1024,\"hop_length\":256,\"n_mels\":80,"
                                       "\"f_max\":null}", "t.json"), 0);
    CHECK(d.f_max == 11025.0);

    /* to_json → parse gives the same description */
    CHECK_RC(es_feature_desc_parse(&d, "{" BASE ",\"n_mels\":40,\"f_min\":20.5,"
                                       "\"mel_scale\":\"slaney\",\"norm\":\"slaney\","
                                       "\"log\":\"db\",\"top_db\":80,\"mean\":-30,\"std\":12.5,"
                                       "\"clip_seconds\":1.0,\"stride_seconds\":0.25}", "t.json"), 0);
    CHECK(es_feature_desc_to_json(&d, buf, sizeof buf) > 0);
    CHECK_RC(es_feature_desc_parse(&d2, buf, "round trip"), 0);
    CHECK(memcmp(&d, &d2, sizeof d) == 0);
    CHECK_RC(es_feature_desc_to_json(&d, buf, 10), ES_ERANGE);
    /* align: "start" by default and then not written (older models keep
     * their bytes); "end" round-trips */
    CHECK_EQ_INT(d.align_end, 0);
    CHECK(es_feature_desc_to_json(&d, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "align") == NULL);
    CHECK_RC(es_feature_desc_parse(&d, "{" BASE ",\"n_mels\":40,\"clip_seconds\":1.0,"
                                       "\"stride_seconds\":0.25,\"align\":\"end\"}", "t.json"), 0);
    CHECK_EQ_INT(d.align_end, 1);
    CHECK(es_feature_desc_to_json(&d, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\"align\":\"end\"") != NULL);
    CHECK_RC(es_feature_desc_parse(&d2, buf, "round trip"), 0);
    CHECK(memcmp(&d, &d2, sizeof d) == 0);
    /* cmn and place: off by default and then not written; set, they round-trip */
    CHECK_EQ_INT(d.cmn, 0);
    CHECK(strstr(buf, "cmn") == NULL);
    CHECK(d.place == 0.0);
    CHECK(strstr(buf, "place") == NULL);
    CHECK_RC(es_feature_desc_parse(&d, "{" BASE ",\"n_mels\":40,\"place\":0.25}", "t.json"), 0);
    CHECK(d.place == 0.25);
    CHECK(es_feature_desc_to_json(&d, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\"place\":0.25") != NULL);
    CHECK_RC(es_feature_desc_parse(&d2, buf, "round trip"), 0);
    CHECK(memcmp(&d, &d2, sizeof d) == 0);
    CHECK_RC(es_feature_desc_parse(&d, "{" BASE ",\"n_mels\":40,\"log\":\"db\",\"cmn\":true}",
                                   "t.json"),
             0);
    CHECK_EQ_INT(d.cmn, 1);
    CHECK(es_feature_desc_to_json(&d, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\"cmn\":true") != NULL);
    CHECK_RC(es_feature_desc_parse(&d2, buf, "round trip"), 0);
    CHECK(memcmp(&d, &d2, sizeof d) == 0);

    bad("{" BASE ",\"n_mels\":64", ES_EJSON, "line 1");
    bad("", ES_EJSON, "JSON");
    bad("[1,2]", ES_ECONFIG, "object");
    bad("{\"sample_rate\":16000,\"n_fft\":512,\"hop_length\":160}", ES_ECONFIG, "'kind'");
    bad("{\"kind\":\"mfcc\",\"sample_rate\":16000,\"n_fft\":512,\"hop_length\":160}", ES_ECONFIG,
        "'kind'");
    bad("{\"kind\":\"spectrogram\",\"n_fft\":512,\"hop_length\":160}", ES_ECONFIG,
        "'sample_rate'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":0,\"n_fft\":512,\"hop_length\":160}", ES_ECONFIG,
        "'sample_rate'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":16000.5,\"n_fft\":512,\"hop_length\":160}",
        ES_ECONFIG, "'sample_rate'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":\"16k\",\"n_fft\":512,\"hop_length\":160}",
        ES_ECONFIG, "'sample_rate'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":16000,\"hop_length\":160}", ES_ECONFIG,
        "'n_fft'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":16000,\"n_fft\":512}", ES_ECONFIG,
        "'hop_length'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":16000,\"n_fft\":512,\"hop_length\":0}",
        ES_ECONFIG, "'hop_length'");
    bad("{" BASE "}", ES_ECONFIG, "'n_mels'");
    bad("{" BASE ",\"n_mels\":64,\"nmels\":64}", ES_ECONFIG, "unknown key 'nmels'");
    bad("{" BASE ",\"n_mels\":64,\"n_mels\":32}", ES_EJSON, "duplicate");
    bad("{" BASE ",\"n_mels\":64,\"win_length\":1024}", ES_ECONFIG, "'win_length'");
    bad("{" BASE ",\"n_mels\":64,\"window\":\"hamming\"}", ES_ECONFIG, "'window'");
    bad("{" BASE ",\"n_mels\":64,\"pad_mode\":\"constant\"}", ES_ECONFIG, "'pad_mode'");
    bad("{" BASE ",\"n_mels\":64,\"center\":1}", ES_ECONFIG, "'center'");
    bad("{" BASE ",\"n_mels\":64,\"power\":3}", ES_ECONFIG, "'power'");
    bad("{" BASE ",\"n_mels\":64,\"f_max\":9000}", ES_ECONFIG, "'f_max'");
    bad("{" BASE ",\"n_mels\":64,\"f_min\":-1}", ES_ECONFIG, "'f_min'");
    bad("{" BASE ",\"n_mels\":64,\"f_min\":4000,\"f_max\":3000}", ES_ECONFIG, "'f_max'");
    bad("{" BASE ",\"n_mels\":64,\"mel_scale\":\"bark\"}", ES_ECONFIG, "'mel_scale'");
    bad("{" BASE ",\"n_mels\":64,\"norm\":\"l2\"}", ES_ECONFIG, "'norm'");
    bad("{" BASE ",\"n_mels\":64,\"log\":\"ln\"}", ES_ECONFIG, "'log'");
    bad("{" BASE ",\"n_mels\":64,\"log\":\"log\",\"log_offset\":0}", ES_ECONFIG, "'log_offset'");
    bad("{" BASE ",\"n_mels\":64,\"log\":\"db\",\"top_db\":-5}", ES_ECONFIG, "'top_db'");
    bad("{" BASE ",\"n_mels\":64,\"top_db\":80}", ES_ECONFIG, "'top_db'");
    bad("{" BASE ",\"n_mels\":64,\"log_offset\":1e-6}", ES_ECONFIG, "'log_offset'");
    bad("{" BASE ",\"n_mels\":64,\"mean\":1}", ES_ECONFIG, "'mean'");
    bad("{" BASE ",\"n_mels\":64,\"mean\":1,\"std\":0}", ES_ECONFIG, "'std'");
    bad("{" BASE ",\"n_mels\":64,\"clip_seconds\":0}", ES_ECONFIG, "'clip_seconds'");
    bad("{" BASE ",\"n_mels\":64,\"stride_seconds\":-1}", ES_ECONFIG, "'stride_seconds'");
    bad("{" BASE ",\"n_mels\":64,\"align\":\"middle\"}", ES_ECONFIG, "'align'");
    bad("{" BASE ",\"n_mels\":64,\"log\":\"db\",\"cmn\":1}", ES_ECONFIG, "'cmn'");
    bad("{" BASE ",\"n_mels\":64,\"cmn\":true}", ES_ECONFIG, "'cmn'");
    bad("{" BASE ",\"n_mels\":64,\"place\":-0.1}", ES_ECONFIG, "'place'");
    bad("{" BASE ",\"n_mels\":64,\"place\":1.5}", ES_ECONFIG, "'place'");
    bad("{" BASE ",\"n_mels\":64,\"place\":\"middle\"}", ES_ECONFIG, "'place'");
    bad("{" BASE ",\"n_mels\":64,\"align\":1}", ES_ECONFIG, "'align'");
    bad("{\"kind\":\"spectrogram\",\"sample_rate\":16000,\"n_fft\":512,\"hop_length\":160,"
        "\"n_mels\":64}", ES_ECONFIG, "'n_mels'");
    CHECK_RC(es_feature_desc_load(&d, "/nonexistent/f.json"), ES_ENOENT);
    CHECK(strstr(es_errmsg(), "/nonexistent/f.json") != NULL);
    CHECK_DONE();
}
