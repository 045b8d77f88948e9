-- CreateTable
CREATE TABLE `tb_seckill_goods` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `title` VARCHAR(200) NOT NULL,
    `price` INTEGER NOT NULL,
    `cost_price` INTEGER NULL,
    `stock_count` INTEGER NOT NULL,
    `start_time` DATETIME(3) NOT NULL,
    `end_time` DATETIME(3) NOT NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updated_at` DATETIME(3) NOT NULL,

    INDEX `tb_seckill_goods_start_time_end_time_idx`(`start_time`, `end_time`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `tb_seckill_order` (
    `id` VARCHAR(32) NOT NULL,
    `goods_id` BIGINT NOT NULL,
    `user_id` VARCHAR(64) NOT NULL,
    `money` INTEGER NOT NULL,
    `status` ENUM('PAID', 'CLOSED', 'NEEDS_REVIEW') NOT NULL,
    `create_time` DATETIME(3) NOT NULL,
    `deadline` DATETIME(3) NOT NULL,
    `pay_time` DATETIME(3) NULL,
    `transaction_id` VARCHAR(32) NULL,
    `closed_at` DATETIME(3) NULL,
    `close_reason` ENUM('TIMEOUT', 'USER_CANCEL') NULL,
    `review_reason` VARCHAR(500) NULL,
    `updated_at` DATETIME(3) NOT NULL,

    INDEX `tb_seckill_order_goods_id_status_idx`(`goods_id`, `status`),
    INDEX `tb_seckill_order_user_id_idx`(`user_id`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `tb_payment_event` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `transaction_id` VARCHAR(32) NOT NULL,
    `order_id` VARCHAR(32) NOT NULL,
    `total_fee` INTEGER NOT NULL,
    `result_code` VARCHAR(16) NOT NULL,
    `time_end` VARCHAR(14) NULL,
    `payload` JSON NOT NULL,
    `received_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    UNIQUE INDEX `tb_payment_event_transaction_id_key`(`transaction_id`),
    INDEX `tb_payment_event_order_id_idx`(`order_id`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `tb_review_item` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `order_id` VARCHAR(32) NOT NULL,
    `kind` ENUM('CLOSE_FAILED', 'AMOUNT_MISMATCH', 'PAID_AFTER_CLOSE') NOT NULL,
    `status` ENUM('OPEN', 'RESOLVED') NOT NULL DEFAULT 'OPEN',
    `reason` VARCHAR(1000) NOT NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `resolved_at` DATETIME(3) NULL,

    INDEX `tb_review_item_status_created_at_idx`(`status`, `created_at`),
    UNIQUE INDEX `tb_review_item_order_id_kind_key`(`order_id`, `kind`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `tb_seckill_order` ADD CONSTRAINT `tb_seckill_order_goods_id_fkey` FOREIGN KEY (`goods_id`) REFERENCES `tb_seckill_goods`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `tb_payment_event` ADD CONSTRAINT `tb_payment_event_order_id_fkey` FOREIGN KEY (`order_id`) REFERENCES `tb_seckill_order`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `tb_review_item` ADD CONSTRAINT `tb_review_item_order_id_fkey` FOREIGN KEY (`order_id`) REFERENCES `tb_seckill_order`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE;
