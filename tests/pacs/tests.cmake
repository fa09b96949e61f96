# PACS (issue 16): the multipart parser and WADO-RS client against a loopback HTTP server; a real
# Orthanc (tests/pacs/OrthancTestServer.h) for DICOMweb, DIMSE, retrieve into the database, SEG
# round trip and the command line. The Orthanc tests skip with a message when Orthanc is absent.
if(TARGET panseg_pacs)
  panseg_add_test(tst_pacs_multipart SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pacs/tst_pacs_multipart.cpp
                  LIBS panseg_pacs Qt6::Network)
endif()
if(TARGET panseg AND TARGET panseg_pacs)
  panseg_add_test(tst_pacs_orthanc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pacs/tst_pacs_orthanc.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/pacs/OrthancTestServer.h
                  LIBS panseg_database panseg_pacs panseg_io panseg_core Qt6::Network)
  target_compile_definitions(tst_pacs_orthanc PRIVATE PANSEG_EXE="$<TARGET_FILE:panseg>"
                             PANSEG_DEMO_MODEL="${PROJECT_SOURCE_DIR}/resources/models/demo")
  add_dependencies(tst_pacs_orthanc panseg)
  set_tests_properties(tst_pacs_orthanc PROPERTIES TIMEOUT 600)
endif()
# The PACS dock in the real workstation, under Xvfb, against the same Orthanc.
if(TARGET panseg_ui AND TARGET panseg_pacs)
  panseg_add_test(tst_pacs_dock SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pacs/tst_pacs_dock.cpp
                  ${CMAKE_CURRENT_SOURCE_DIR}/pacs/OrthancTestServer.h
                  LIBS panseg_ui panseg_database panseg_pacs Qt6::Network GUI)
  set_tests_properties(tst_pacs_dock PROPERTIES TIMEOUT 300)
endif()
