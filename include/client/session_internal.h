/* Private to src/client/: the session object shared by session.c and io.c. */
#ifndef SMBQUIC_CLIENT_SESSION_INTERNAL_H
#define SMBQUIC_CLIENT_SESSION_INTERNAL_H

#include "client/session.h"
#include "transport/transport.h"

struct sq_session {
    struct transport *transport;
    struct smb2_conn *conn;
    uint32_t tree_id;
    bool tree_connected;
    bool logged_on;
    int response_timeout_ms; /* no byte from the server for this long fails the connection */
    int64_t last_input_ms;   /* CLOCK_MONOTONIC when the server last sent SMB bytes (io.c) */
    struct sq_session_info info;
    /* What our NEGOTIATE request said, for FSCTL_VALIDATE_NEGOTIATE_INFO (SMB 3.0/3.0.2). */
    uint8_t client_guid[16];
    uint16_t client_security_mode;
    uint32_t client_capabilities;
    uint16_t offered_dialect;
};

#endif
