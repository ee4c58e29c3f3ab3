#!/bin/sh
# Stand-in for the seed template's wordpress-nginx.sh (not part of the source document):
# writes an nginx site for WordPress next to itself, as the real script would under /opt.
set -e
dir="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir/nginx"
cat > "$dir/nginx/wordpress.conf" <<'CONF'
server {
    listen 80;
    root /var/www/wordpress;
    index index.php;
    location ~ \.php$ { fastcgi_pass unix:/run/php/php-fpm.sock; include fastcgi_params; }
}
CONF
echo "wordpress-nginx: wrote $dir/nginx/wordpress.conf"
