# Department mode on a real PostgreSQL server started by the test (tests/PgTestServer.h).
find_package(Qt6 6.4 REQUIRED COMPONENTS Network Sql)
panseg_add_test(tst_server_db SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/tst_server_db.cpp
                LIBS panseg_database panseg_io panseg_core Qt6::Sql Qt6::Network)
