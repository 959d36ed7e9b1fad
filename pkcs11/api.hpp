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

} // namespace ptool::p11
