/* sealkeep_net: socket options Node does not expose. quickAck(fd) sets TCP_QUICKACK so the
 * kernel acknowledges received data at once instead of delaying the ACK; Linux clears the
 * flag again after it acts, so the mssim server re-arms it after every read. */
#include <node_api.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static napi_value QuickAck(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return NULL;
#ifdef TCP_QUICKACK
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#endif
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "quickAck", NAPI_AUTO_LENGTH, QuickAck, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "quickAck", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
