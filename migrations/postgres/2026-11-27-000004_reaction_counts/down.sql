DROP INDEX reactions_visitor_idx;
DROP TABLE reaction_counts;
