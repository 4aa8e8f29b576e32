-- Keep its meaning identical to sqlite/0009_cell_bodies.sql, which moves
-- SQLite's long cell values out of row_cells' B-tree, where every search
-- passing them read them whole. PostgreSQL keeps row_cells' values in the
-- table's heap (long ones compressed or out of line) and the key alone in
-- its primary key's index: nothing changes here.
SELECT 1;
