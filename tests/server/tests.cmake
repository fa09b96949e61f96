# Department mode on a real PostgreSQL server started by the test (tests/PgTestServer.h).
find_package(Qt6 6.4 REQUIRED COMPONENTS Network Sql)
panseg_add_test(tst_server_db SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/tst_server_db.cpp
                LIBS panseg_database panseg_io panseg_core Qt6::Sql Qt6::Network)
# Several workstations as processes: the panseg CLI in server mode, kill -9 during saves,
# concurrent writers, approve-vs-return race. Needs the panseg executable and db_helper.
if(TARGET panseg AND TARGET panseg_db_helper)
  panseg_add_test(tst_server_workstations SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/tst_server_workstations.cpp
                  LIBS panseg_database panseg_io panseg_core Qt6::Sql Qt6::Network)
  target_compile_definitions(tst_server_workstations PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                             PANSEG_DB_HELPER="$<TARGET_FILE:panseg_db_helper>")
  add_dependencies(tst_server_workstations panseg panseg_db_helper)
  set_tests_properties(tst_server_workstations PROPERTIES TIMEOUT 600)
  # Moving to a server (panseg db copy) and the department benchmark (panseg bench db --db URI).
  panseg_add_test(tst_server_copy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/tst_server_copy.cpp
                  LIBS panseg_database panseg_io panseg_core Qt6::Sql Qt6::Network)
  target_compile_definitions(tst_server_copy PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>")
  add_dependencies(tst_server_copy panseg)
  set_tests_properties(tst_server_copy PROPERTIES TIMEOUT 600)
endif()
# The sign-in, users-and-roles and change-password dialogs under Xvfb against a real server.
if(TARGET panseg_ui)
  panseg_add_test(tst_server_gui GUI SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/tst_server_gui.cpp
                  LIBS panseg_ui panseg_database panseg_io panseg_core Qt6::Sql Qt6::Network)
endif()
