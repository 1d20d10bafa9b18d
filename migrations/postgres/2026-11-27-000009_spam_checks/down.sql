DROP INDEX comments_ip_idx;
