# Importing PEFT adapters into a store and exporting a store's tasks as PEFT
# adapters (docs/IMPORT.md): thin mains over libmetrics/peft/ (collide_peft).
foreach(tool collide-import collide-export)
  collide_target(${tool} EXECUTABLE SOURCES ${tool}.c COLLIDE_LIBS collide_cli
                 LIBS PkgConfig::JANSSON)
endforeach()
