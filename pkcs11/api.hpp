// SPDX-License-Identifier: BSD-2-Clause
#pragma once

#include "core/error.hpp"
#include "pkcs11/module.hpp"

// The bodies of the implemented PKCS#11 calls, one group per file. Each runs with the module
// mutex held and initialization checked (entry.cpp), and answers by returning CKR_OK or a
// CK_RV, or by throwing CkError / ptool::Error.
namespace ptool::p11 {

// slots.cpp
CK_RV get_info(CK_INFO_PTR info);
CK_RV get_slot_list(Module& m, CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV get_slot_info(Module& m, CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
CK_RV get_token_info(Module& m, CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
CK_RV get_mechanism_list(Module& m, CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                         CK_ULONG_PTR count);
CK_RV get_mechanism_info(Module& m, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                         CK_MECHANISM_INFO_PTR info);

// sessions.cpp
CK_RV open_session(Module& m, CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out);
CK_RV close_session(Module& m, CK_SESSION_HANDLE h);
CK_RV close_all_sessions(Module& m, CK_SLOT_ID slot);
CK_RV get_session_info(Module& m, CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info);
CK_RV login(Module& m, CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
            CK_ULONG pin_len);
CK_RV logout(Module& m, CK_SESSION_HANDLE h);

// objects.cpp
CK_RV find_objects_init(Module& m, CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV find_objects(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                   CK_ULONG_PTR count);
CK_RV find_objects_final(Module& m, CK_SESSION_HANDLE h);
CK_RV get_attribute_value(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV get_object_size(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size);

// sign.cpp
CK_RV sign_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV sign(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
           CK_ULONG_PTR sig_len);
CK_RV sign_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len);
CK_RV sign_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV verify_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV verify(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
             CK_ULONG sig_len);
CK_RV verify_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len);
CK_RV verify_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len);

// decrypt.cpp
CK_RV decrypt_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV decrypt(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len);
CK_RV generate_random(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len);

// tokens.cpp: token and PIN management (the spare slot, C_InitToken, C_InitPIN, C_SetPIN).
CK_RV init_token(Module& m, CK_SLOT_ID slot, CK_UTF8CHAR_PTR so_pin, CK_ULONG so_pin_len,
                 CK_UTF8CHAR_PTR label);
CK_RV init_pin(Module& m, CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV set_pin(Module& m, CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
              CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len);

// object_admin.cpp: objects made, changed and destroyed through PKCS#11.
CK_RV create_object(Module& m, CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE_PTR out);
CK_RV destroy_object(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj);
CK_RV set_attribute_value(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);

// keygen.cpp: keys generated in the TPM under the token's primary.
CK_RV generate_key(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR out);
CK_RV generate_key_pair(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech,
                        CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl,
                        CK_ULONG priv_count, CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv);

// encrypt.cpp: encryption (AES in the TPM, RSA public-key in OpenSSL) and multi-part decrypt.
CK_RV encrypt_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
CK_RV encrypt(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
              CK_ULONG_PTR out_len);
CK_RV encrypt_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                     CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV encrypt_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV decrypt_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                     CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV decrypt_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

// digest.cpp: message digests (OpenSSL), random seeding, operation state.
CK_RV digest_init(Module& m, CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech);
CK_RV digest(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len);
CK_RV digest_update(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR part, CK_ULONG len);
CK_RV digest_key(Module& m, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key);
CK_RV digest_final(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV seed_random(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len);
CK_RV get_operation_state(Module& m, CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR len);

} // namespace ptool::p11
